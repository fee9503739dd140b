from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action

from accounts.api.base import (
    IDEMPOTENCY_PARAMETER,
    ApiViewSet,
    CachedListMixin,
    HistoryMixin,
    SoftDestroyMixin,
)
from spending.api.filters import SpendingCategoryFilter
from spending.api.serializers import (
    AuthRuleBacktestSerializer,
    SpendingCategorySerializer,
    SpendingProfileCreateSerializer,
    SpendingProfileSerializer,
    SpendingProfileUpdateSerializer,
)
from spending.models import SpendingCategory, SpendingProfile
from spending.selectors import (
    spending_category_list,
    spending_profile_backtests,
    spending_profile_list,
)
from spending.services import (
    spending_profile_create,
    spending_profile_delete,
    spending_profile_update,
)


class SpendingProfileViewSet(
    HistoryMixin,
    SoftDestroyMixin,
    CachedListMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ApiViewSet,
):
    """Spending profiles of your account: allowed/blocked merchant categories and an optional
    spend limit shared by the cards that use the profile. A profile still used by a card that
    is not closed, or by a card product, cannot be deleted."""

    policy_resource = "spending_profiles"
    # A profile lists its rules with the category's code and description.
    cache_resources = ("spending_profiles", "global:spending_categories")
    serializer_class = SpendingProfileSerializer
    model = SpendingProfile

    def scoped(self, *, actor):
        return spending_profile_list(actor=actor).order_by("name", "id")

    def _fresh(self, profile):
        # Re-read through the selector so the response shows the rules as now stored.
        return self.scoped(actor=self.request.user).get(pk=profile.pk)

    @extend_schema(
        request=SpendingProfileCreateSerializer,
        responses={201: SpendingProfileSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def create(self, request, *args, **kwargs):
        data = self.validated_input(SpendingProfileCreateSerializer)
        profile = spending_profile_create(account=request.user.account, **data)
        return self.output(self._fresh(profile), status=201)

    @extend_schema(request=SpendingProfileUpdateSerializer, responses=SpendingProfileSerializer)
    def partial_update(self, request, *args, **kwargs):
        profile = self.get_object()
        data = self.validated_input(SpendingProfileUpdateSerializer)
        return self.output(self._fresh(spending_profile_update(profile=profile, **data)))

    def perform_destroy(self, instance):
        spending_profile_delete(profile=instance)

    @extend_schema(responses=AuthRuleBacktestSerializer(many=True))
    @action(detail=True, methods=["get"])
    def backtests(self, request, token=None):
        """Backtests Lithic ran of the profile's rule (requested by our operations team), newest
        first, with what the current and the draft rule would have approved and declined."""
        profile = self.get_object()
        backtests = self.paginate_queryset(spending_profile_backtests(profile=profile))
        data = AuthRuleBacktestSerializer(backtests, many=True).data
        return self.get_paginated_response(data)


MCC_PATH_PARAMETER = OpenApiParameter(
    name="mcc",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.PATH,
    pattern="^[0-9]{4}$",
    description="The 4-digit merchant category code",
)


@extend_schema_view(retrieve=extend_schema(parameters=[MCC_PATH_PARAMETER]))
class SpendingCategoryViewSet(
    CachedListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet
):
    """The merchant category (MCC) catalogue, ISO 18245, with the codes we flag as high-risk.
    Read-only; search by MCC prefix or description."""

    policy_resource = "spending_categories"
    cache_resources = ("global:spending_categories",)
    serializer_class = SpendingCategorySerializer
    filterset_class = SpendingCategoryFilter
    model = SpendingCategory
    lookup_field = "mcc"
    # Any path segment reaches the view, so a malformed code is the API's own JSON 404.
    lookup_value_converter = "str"

    def scoped(self, *, actor):
        return spending_category_list().order_by("mcc")
