from __future__ import annotations

from django.db.models import Prefetch
from rest_framework import mixins

from accounts.api.base import ApiViewSet
from core.api.pagination import TransactionCursorPagination
from transactions.api.filters import TransactionFilter
from transactions.api.serializers import (
    BalanceReportSerializer,
    DisputeDetailSerializer,
    DisputeSerializer,
    TransactionDetailSerializer,
    TransactionSerializer,
)
from transactions.models import BalanceReport, Dispute, DisputeEvent, Transaction, TransactionEvent
from transactions.selectors import balance_report_list, dispute_list, transaction_list


class TransactionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Card transactions of your account, newest first (a plain user sees those of their own
    cards). Read-only. The list is cursor-paginated: follow `next`, which stays correct while
    new transactions arrive. One transaction also lists its events."""

    policy_resource = "transactions"
    model = Transaction
    pagination_class = TransactionCursorPagination
    filterset_class = TransactionFilter

    def get_serializer_class(self):
        if self.action == "retrieve":
            return TransactionDetailSerializer
        return TransactionSerializer

    def scoped(self, *, actor):
        transactions = transaction_list(actor=actor)
        if self.action == "retrieve":
            events = TransactionEvent.objects.order_by("created", "id")
            transactions = transactions.prefetch_related(
                Prefetch("events", queryset=events), "disputes", "enhanced_data"
            )
        return transactions


class DisputeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Disputes of your account's transactions as Lithic reports them, newest first (a plain
    user sees those of their own cards). Read-only. `credited` is what the dispute has
    credited your account: its provisional credit, or what the chargeback recovered. One
    dispute also lists its timeline."""

    policy_resource = "disputes"
    model = Dispute

    def get_serializer_class(self):
        if self.action == "retrieve":
            return DisputeDetailSerializer
        return DisputeSerializer

    def scoped(self, *, actor):
        disputes = dispute_list(actor=actor)
        if self.action == "retrieve":
            events = DisputeEvent.objects.order_by("created", "id")
            disputes = disputes.prefetch_related(Prefetch("events", queryset=events))
        return disputes


class BalanceReportViewSet(mixins.ListModelMixin, ApiViewSet):
    """Your account's balance as Lithic reported it, beside ours at that moment (posted
    balance, held for open authorizations, available), newest first. `matches` is false while
    the two differ; such a difference is reconciled by our operations team."""

    policy_resource = "balance_reports"
    serializer_class = BalanceReportSerializer
    model = BalanceReport

    def scoped(self, *, actor):
        return balance_report_list(actor=actor)
