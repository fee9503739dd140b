"""The baseline for bench_asa: an ASA responder that sums the month's transactions per request.

This is how the decision is often first written: read the card, SUM its transactions since the
first of the month for the limit and its account's PENDING transactions for the holds, compare,
insert. It is served exactly like ours (same signature check, same parsing, same gunicorn), so
the difference is the decision's data access. It takes no locks, so it is also wrong under
concurrency; it exists only to be measured.
"""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.http import JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from cards.models import Card
from core import views as core_views
from core.tenancy import system_scope
from lithic_integration import signatures
from lithic_integration.asa import parse_request
from spending.models import ProfileCategory
from transactions import authorization as asa
from transactions.models import Transaction, TransactionEvent


@csrf_exempt
def naive_authorize(request):
    body = request.body
    try:
        signatures.verify(secret=settings.LITHIC_ASA_SECRET, headers=request.headers, body=body)
    except signatures.SignatureError:
        return JsonResponse({"error": "bad signature"}, status=401)
    req = parse_request(body)
    now = timezone.now()
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    with system_scope("naive-asa"), transaction.atomic():
        card = Card.objects.select_related("account", "profile").get(
            lithic_card_token=req.card_token
        )
        account = card.account
        result = asa.APPROVED
        rules = dict(
            ProfileCategory.objects.filter(profile_id=card.profile_id).values_list(
                "category__mcc", "rule"
            )
        )
        if card.state != "OPEN" or account.status != "ACTIVE":
            result = asa.CARD_PAUSED
        elif rules.get(req.mcc) == "BLOCKED" or (
            "ALLOWED" in rules.values() and rules.get(req.mcc) != "ALLOWED"
        ):
            result = asa.UNAUTHORIZED_MERCHANT
        else:
            spent = (
                Transaction.objects.filter(
                    card=card, transaction_date__gte=month_start, status__in=("PENDING", "SETTLED")
                ).aggregate(total=Sum("amount"))["total"]
                or 0
            )
            held = (
                Transaction.objects.filter(account=account, status="PENDING").aggregate(
                    total=Sum("amount")
                )["total"]
                or 0
            )
            if card.spend_limit and spent + req.amount > card.spend_limit:
                result = asa.VELOCITY_EXCEEDED
            elif req.amount > account.balance - held:
                result = asa.INSUFFICIENT_FUNDS
        txn = Transaction.objects.create(
            token=req.token,
            account=account,
            card=card,
            amount=req.amount,
            currency=req.currency,
            merchant_descriptor=req.merchant_descriptor,
            mcc=req.mcc,
            type=req.status,
            status="PENDING" if result == asa.APPROVED else "DECLINED",
            result=result,
            declined_reason="" if result == asa.APPROVED else result,
            transaction_date=now,
        )
        TransactionEvent.objects.create(
            token=uuid.uuid4(),
            account=account,
            transaction=txn,
            type=req.status,
            amount=req.amount,
            result=result,
            created=now + datetime.timedelta(0),
        )
    return JsonResponse({"token": req.token, "result": result})


urlpatterns = [
    path("healthz/", core_views.healthz),
    path("lithic/asa/", naive_authorize),
]
