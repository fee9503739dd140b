"""`/api/v1/`: every resource of the customer API, plus its OpenAPI schema and docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from cards.api.views import CardViewSet


class Router(DefaultRouter):
    include_root_view = False


router = Router(trailing_slash=True)
router.register("cards", CardViewSet, basename="card")

urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
