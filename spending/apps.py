from django.apps import AppConfig
from django.db.models.signals import post_save


class SpendingConfig(AppConfig):
    name = "spending"
    verbose_name = "Spending rules"

    def ready(self):
        from spending.models import ProfileCategory
        from spending.services import profile_category_saved

        post_save.connect(
            profile_category_saved, sender=ProfileCategory, dispatch_uid="lithic_profile_rules"
        )
