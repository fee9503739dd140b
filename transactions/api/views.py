from __future__ import annotations

from django.db.models import Prefetch
from rest_framework import mixins

from accounts.api.base import ApiViewSet
from core.api.pagination import TransactionCursorPagination
from transactions.api.filters import TransactionFilter
from transactions.api.serializers import TransactionDetailSerializer, TransactionSerializer
from transactions.models import Transaction, TransactionEvent
from transactions.selectors import transaction_list


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
            transactions = transactions.prefetch_related(Prefetch("events", queryset=events))
        return transactions
