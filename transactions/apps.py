from django.apps import AppConfig


class TransactionsConfig(AppConfig):
    name = "transactions"
    verbose_name = "Transactions"

    def ready(self) -> None:
        # The account page's panels (core.admin.change_page_panel).
        from core.roles import runtime_privileges_granted
        from transactions import overview, panels, search  # noqa: F401
        from transactions.partitioning import grant_runtime_privileges

        runtime_privileges_granted.connect(
            grant_runtime_privileges, dispatch_uid="transactions-partitioning-grants"
        )
