from django.contrib import admin
from django.urls import include, path

from core import views as core_views
from webhooks import views as webhook_views

admin.site.site_header = "Card program operations"
admin.site.site_title = "Card program operations"
admin.site.index_title = "Operations console"

urlpatterns = [
    path("healthz/", core_views.healthz, name="healthz"),
    path("readyz/", core_views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("webhooks/lithic/", webhook_views.lithic_webhook, name="lithic_webhook"),
    path("api/", include("config.api_urls")),
]
