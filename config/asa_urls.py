"""The responder's processes serve the authorization endpoint and the probes, nothing else."""

from django.urls import include, path

from core import views as core_views

urlpatterns = [
    path("healthz/", core_views.healthz, name="healthz"),
    path("readyz/", core_views.readyz, name="readyz"),
    path("lithic/", include("lithic_integration.urls")),
]
