from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        # The overview's section (core.admin.overview_section).
        from webhooks import overview  # noqa: F401
