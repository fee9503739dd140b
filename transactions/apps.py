from django.apps import AppConfig


class TransactionsConfig(AppConfig):
    name = "transactions"
    verbose_name = "Transactions"

    def ready(self) -> None:
        from core.roles import runtime_privileges_granted
        from transactions.partitioning import grant_runtime_privileges

        runtime_privileges_granted.connect(
            grant_runtime_privileges, dispatch_uid="transactions-partitioning-grants"
        )
