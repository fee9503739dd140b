from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ConsoleAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin, with the console's own site: second factor, lockout, budget."""

    default = False
    default_site = "accounts.console.ConsoleAdminSite"


class AccountsConfig(AppConfig):
    default = True
    name = "accounts"
    verbose_name = "Accounts and users"

    def ready(self) -> None:
        # The account page's panels (core.admin.change_page_panel).
        from django.contrib.auth.signals import user_logged_in

        from accounts import overview, panels, search  # noqa: F401
        from accounts.backends import update_last_login_in_auth_scope

        # Django's own receiver writes `last_login` in whatever context the login view has
        # (none yet): row-level security would refuse it.
        user_logged_in.disconnect(dispatch_uid="update_last_login")
        user_logged_in.connect(
            update_last_login_in_auth_scope, dispatch_uid="update_last_login_in_auth_scope"
        )

        from accounts import signals

        signals.connect()
