from django.apps import AppConfig


class CardsConfig(AppConfig):
    name = "cards"
    verbose_name = "Cards"

    def ready(self) -> None:
        # The account page's panels (core.admin.change_page_panel).
        from cards import as_of, panels, search  # noqa: F401
