"""Deleting business rows soft-deletes them; undelete restores exactly; money rows never go."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account
from cards.models import Card, CardProduct
from cards.services import card_issue, card_product_create
from core.models import RecordDeletionError
from core.soft_delete import UndeleteConflict, soft_delete, undelete
from spending.services import spending_profile_create
from transactions.models import Transaction, TransactionEvent
from webhooks.models import Webhook


@pytest.fixture
def product(acme):
    profile = spending_profile_create(account=acme, name="Travel")
    return card_product_create(
        account=acme,
        name="Travel card",
        default_spend_limit=Decimal("500.00"),
        default_profile=profile,
    )


def test_soft_deleted_row_is_hidden_but_kept(acme, product):
    soft_delete(obj=product)
    assert not CardProduct.objects.filter(pk=product.pk).exists()
    assert CardProduct.all_objects.get(pk=product.pk).deleted is not None
    assert CardProduct.deleted_objects.filter(pk=product.pk).exists()


def test_soft_delete_does_not_cascade_or_null_references(acme, product):
    card = card_issue(account=acme, product=product)
    soft_delete(obj=product)
    soft_delete(obj=acme)
    card = Card.objects.get(pk=card.pk)
    assert card.product_id == product.pk
    assert card.account_id == acme.pk
    assert card.product.name == "Travel card"  # reachable through the base manager


def test_undelete_restores_the_row_as_it_was(acme, product):
    card = card_issue(account=acme, product=product)
    soft_delete(obj=product)
    undelete(obj=CardProduct.all_objects.get(pk=product.pk))
    restored = CardProduct.objects.get(pk=product.pk)
    assert restored.default_spend_limit == Decimal("500.00")
    assert restored.default_profile.name == "Travel"
    assert list(restored.cards.all()) == [card]


def test_unique_name_is_free_again_after_soft_delete(acme, product):
    soft_delete(obj=product)
    replacement = card_product_create(account=acme, name="Travel card")
    assert replacement.pk != product.pk


def test_undelete_refuses_when_a_live_row_took_the_name(acme, product):
    soft_delete(obj=product)
    card_product_create(account=acme, name="Travel card")
    with pytest.raises(UndeleteConflict) as excinfo:
        undelete(obj=CardProduct.all_objects.get(pk=product.pk))
    assert excinfo.value.code == "undelete_conflict"
    assert CardProduct.all_objects.get(pk=product.pk).deleted is not None


def test_queryset_delete_soft_deletes_each_row(acme):
    for n in range(3):
        card_issue(account=acme, memo=f"c{n}")
    Card.objects.filter(account=acme).delete()
    assert Card.objects.count() == 0
    assert Card.all_objects.count() == 3


def test_soft_deleted_accounts_are_hidden_from_default_queries(acme, globex):
    soft_delete(obj=globex)
    assert list(Account.objects.all()) == [acme]


@pytest.fixture
def money_rows(acme):
    card = card_issue(account=acme)
    txn = Transaction.objects.create(
        account=acme, card=card, amount=Decimal("12.34"), status="PENDING"
    )
    event = TransactionEvent.objects.create(
        token="6c4f0b9e-1d1e-4f36-9d5a-7c8e2f3b4a51",
        account=acme,
        transaction=txn,
        type="AUTHORIZATION",
        amount=Decimal("12.34"),
        created=timezone.now(),
    )
    hook = Webhook.objects.create(webhook_id="msg_1", event_type="card.created", payload={})
    return [txn, event, hook]


@pytest.mark.parametrize("index", [0, 1, 2], ids=["transaction", "event", "webhook"])
def test_financial_records_refuse_deletion(money_rows, index):
    row = money_rows[index]
    model = type(row)
    with pytest.raises(RecordDeletionError):
        row.delete()
    with pytest.raises(RecordDeletionError):
        model.objects.filter(pk=row.pk).delete()
    assert model.objects.filter(pk=row.pk).exists()
