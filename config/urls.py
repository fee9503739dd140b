from django.contrib import admin
from django.urls import include, path

from accounts.console import password_reset_urls
from core import views as core_views
from webhooks import views as webhook_views

urlpatterns = [
    path("healthz/", core_views.healthz, name="healthz"),
    path("readyz/", core_views.readyz, name="readyz"),
    # Before the admin's own URLs: its last pattern catches everything under admin/.
    *password_reset_urls(),
    path("admin/mfa/passkey/", include("accounts.passkeys")),
    path("admin/", admin.site.urls),
    path("webhooks/lithic/", webhook_views.lithic_webhook, name="lithic_webhook"),
    path("api/", include("config.api_urls")),
]
