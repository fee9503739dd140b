from django.apps import AppConfig
from django.db.models.signals import post_save


class SpendingConfig(AppConfig):
    name = "spending"
    verbose_name = "Spending rules"

    def ready(self):
        # The account page's panels (core.admin.change_page_panel).
        from spending import panels  # noqa: F401
        from spending.models import ProfileCategory
        from spending.services import profile_category_saved

        post_save.connect(
            profile_category_saved, sender=ProfileCategory, dispatch_uid="lithic_profile_rules"
        )
