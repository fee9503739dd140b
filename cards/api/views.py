from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action

from accounts.api.base import (
    IDEMPOTENCY_PARAMETER,
    ApiViewSet,
    CachedListMixin,
    HistoryMixin,
    SoftDestroyMixin,
)
from cards.api.serializers import (
    CardIssueSerializer,
    CardProductCreateSerializer,
    CardProductSerializer,
    CardProductUpdateSerializer,
    CardSerializer,
    CardUpdateSerializer,
)
from cards.models import Card, CardProduct, CardState
from cards.selectors import card_list, card_product_list
from cards.services import (
    card_issue,
    card_product_create,
    card_product_update,
    card_set_limit,
    card_set_state,
    card_update,
)
from spending.models import LITHIC_SYNC_FIELDS


class CardViewSet(
    HistoryMixin, CachedListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet
):
    """Cards of your account. Issue from a product, change memo/limit/profile, pause,
    unpause or close. A closed card cannot be reopened; cards are closed, not deleted."""

    policy_resource = "cards"
    cache_resources = ("cards",)
    serializer_class = CardSerializer
    filterset_fields = ("state", "type")

    model = Card

    def scoped(self, *, actor):
        return card_list(actor=actor).order_by("-created_at", "-id")

    def output(self, instance, **kwargs):
        # The push to Lithic runs when the change commits, which can be after the service
        # returned: show the sync status as stored now.
        instance.refresh_from_db(fields=LITHIC_SYNC_FIELDS)
        return super().output(instance, **kwargs)

    @extend_schema(
        request=CardIssueSerializer,
        responses={201: CardSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def create(self, request, *args, **kwargs):
        data = self.validated_input(CardIssueSerializer)
        return self.output(card_issue(account=request.user.account, **data), status=201)

    @extend_schema(request=CardUpdateSerializer, responses=CardSerializer)
    def partial_update(self, request, *args, **kwargs):
        card = self.get_object()
        data = self.validated_input(CardUpdateSerializer)
        if "memo" in data or "profile" in data:
            card = card_update(
                card=card,
                memo=data.get("memo"),
                profile=data.get("profile"),
                clear_profile="profile" in data and data["profile"] is None,
            )
        if "spend_limit" in data or "spend_limit_duration" in data:
            card = card_set_limit(
                card=card,
                spend_limit=data.get("spend_limit", card.spend_limit),
                spend_limit_duration=data.get("spend_limit_duration", card.spend_limit_duration),
            )
        return self.output(card)

    def _state_change(self, state: str):
        return self.output(card_set_state(card=self.get_object(), state=state))

    @extend_schema(request=None, responses=CardSerializer, parameters=[IDEMPOTENCY_PARAMETER])
    @action(detail=True, methods=["post"])
    def pause(self, request, *args, **kwargs):
        return self._state_change(CardState.PAUSED)

    @extend_schema(request=None, responses=CardSerializer, parameters=[IDEMPOTENCY_PARAMETER])
    @action(detail=True, methods=["post"])
    def unpause(self, request, *args, **kwargs):
        return self._state_change(CardState.OPEN)

    @extend_schema(request=None, responses=CardSerializer, parameters=[IDEMPOTENCY_PARAMETER])
    @action(detail=True, methods=["post"])
    def close(self, request, *args, **kwargs):
        return self._state_change(CardState.CLOSED)


class CardProductViewSet(
    HistoryMixin,
    SoftDestroyMixin,
    CachedListMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ApiViewSet,
):
    """Card products of your account: the templates cards are issued from (type, default
    limit, default spending profile). Deleting one leaves the cards issued from it as they are."""

    policy_resource = "card_products"
    cache_resources = ("card_products",)
    serializer_class = CardProductSerializer
    filterset_fields = ("card_type", "is_active")
    model = CardProduct

    def scoped(self, *, actor):
        return card_product_list(actor=actor).order_by("name", "id")

    @extend_schema(
        request=CardProductCreateSerializer,
        responses={201: CardProductSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def create(self, request, *args, **kwargs):
        data = self.validated_input(CardProductCreateSerializer)
        return self.output(card_product_create(account=request.user.account, **data), status=201)

    @extend_schema(request=CardProductUpdateSerializer, responses=CardProductSerializer)
    def partial_update(self, request, *args, **kwargs):
        product = self.get_object()
        data = self.validated_input(CardProductUpdateSerializer)
        return self.output(card_product_update(product=product, **data))
