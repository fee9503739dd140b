from django.apps import AppConfig


class LithicConfig(AppConfig):
    name = "lithic_integration"
    label = "lithic"
    verbose_name = "Lithic"

    def ready(self) -> None:
        # `overview`: the overview's section (core.admin.overview_section).
        from lithic_integration import checks, outbox, overview  # noqa: F401

        # Fail at start-up, not at the first request Lithic sends.
        checks.check_configuration()
        outbox.connect_receivers()
