from django.apps import AppConfig


class LithicConfig(AppConfig):
    name = "lithic_integration"
    label = "lithic"
    verbose_name = "Lithic"

    def ready(self) -> None:
        from lithic_integration import checks, outbox

        # Fail at start-up, not at the first request Lithic sends.
        checks.check_configuration()
        outbox.connect_receivers()
