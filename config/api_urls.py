"""`/api/v1/`: every resource of the customer API, plus its OpenAPI schema and docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from accounts.api.views import AccountSettingViewSet, AccountViewSet, AddressViewSet, UserViewSet
from cards.api.views import CardProductViewSet, CardViewSet
from spending.api.views import SpendingCategoryViewSet, SpendingProfileViewSet
from transactions.api.views import BalanceReportViewSet, DisputeViewSet, TransactionViewSet


class Router(DefaultRouter):
    include_root_view = False


router = Router(trailing_slash=True)
router.register("cards", CardViewSet, basename="card")
router.register("card-products", CardProductViewSet, basename="card-product")
router.register("spending-profiles", SpendingProfileViewSet, basename="spending-profile")
router.register("spending-categories", SpendingCategoryViewSet, basename="spending-category")
router.register("transactions", TransactionViewSet, basename="transaction")
router.register("disputes", DisputeViewSet, basename="dispute")
router.register("balance-reports", BalanceReportViewSet, basename="balance-report")
router.register("users", UserViewSet, basename="user")
router.register("addresses", AddressViewSet, basename="address")
router.register("settings", AccountSettingViewSet, basename="account-setting")

# The caller's own account is a singleton, which a router cannot route.
account_urls = [
    path(
        "v1/account/",
        AccountViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="account-detail",
    ),
    path(
        "v1/account/history/",
        AccountViewSet.as_view({"get": "history"}),
        name="account-history",
    ),
]

urlpatterns = [
    *account_urls,
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: the CSP allows no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
