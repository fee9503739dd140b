"""Row-level security on a tenant table, as a migration operation (PostgreSQL only).

    EnableTenantRLS("cards")                      # rows of the account in `account_id`
    EnableTenantRLS("accounts", column="id")      # the account's own row

The policy shows and accepts a row when the context (core.tenancy) names its account or sees
every account; with no context, nothing. FORCE applies it to the tables' owner as well. The two
functions it calls come from core's migration 0001; each is read once per statement (an
InitPlan), not per row.
"""

from __future__ import annotations

from django.db import migrations

POLICY = "tenant_isolation"


def policy_condition(column: str) -> str:
    return f"{column} = (SELECT app_account_id()) OR (SELECT app_all_accounts())"


class EnableTenantRLS(migrations.operations.base.Operation):
    reversible = True
    reduces_to_sql = True

    def __init__(self, table: str, column: str = "account_id"):
        self.table = table
        self.column = column

    def deconstruct(self):
        kwargs = {"table": self.table}
        if self.column != "account_id":
            kwargs["column"] = self.column
        return self.__class__.__qualname__, [], kwargs

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        table = schema_editor.quote_name(self.table)
        condition = policy_condition(schema_editor.quote_name(self.column))
        schema_editor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        schema_editor.execute(
            f"CREATE POLICY {POLICY} ON {table} USING ({condition}) WITH CHECK ({condition})"
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        table = schema_editor.quote_name(self.table)
        schema_editor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        schema_editor.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

    def describe(self):
        return f"Row-level security on {self.table} by {self.column}"

    @property
    def migration_name_fragment(self):
        return f"rls_{self.table}"
