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


# --- Generations of cached reads ---------------------------------------------------------------

CACHE_GENERATION_FUNCTION = """
CREATE OR REPLACE FUNCTION cache_generations_bump() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    account_column text := TG_ARGV[0];  -- the column naming the account, '' for a global key
    resource text := TG_ARGV[1];
BEGIN
    IF account_column = '' THEN
        INSERT INTO cache_generations AS g (key, value) VALUES ('global:' || resource, 1)
        ON CONFLICT (key) DO UPDATE SET value = g.value + 1;
        RETURN NULL;
    END IF;
    -- Each account whose rows the statement changed, once (rows it moved count for both).
    EXECUTE format(
        'INSERT INTO cache_generations AS g (key, value)
         SELECT DISTINCT ''account:'' || changed.%1$I || '':'' || %2$L, 1
         FROM (%3$s) AS changed WHERE changed.%1$I IS NOT NULL
         ORDER BY 1
         ON CONFLICT (key) DO UPDATE SET value = g.value + 1',
        account_column, resource,
        CASE TG_OP
            WHEN 'INSERT' THEN 'SELECT * FROM changed_new'
            WHEN 'DELETE' THEN 'SELECT * FROM changed_old'
            ELSE 'SELECT * FROM changed_new UNION ALL SELECT * FROM changed_old'
        END);
    RETURN NULL;
END $$;
"""


class CacheGenerationTriggers(migrations.operations.base.Operation):
    """Bump the generation of `resource` (core.response_cache) with every statement that
    changes rows of `table`: per account in `column`, or one global key with `column=""`.

    Statement-level triggers with transition tables: one bump per account per statement, in
    the statement's transaction, however many rows it changed (PostgreSQL only).
    """

    reversible = True
    reduces_to_sql = True
    EVENTS = (
        ("ins", "INSERT", "REFERENCING NEW TABLE AS changed_new"),
        ("upd", "UPDATE", "REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new"),
        ("del", "DELETE", "REFERENCING OLD TABLE AS changed_old"),
    )

    def __init__(self, table: str, resource: str, column: str = "account_id"):
        self.table = table
        self.resource = resource
        self.column = column

    def deconstruct(self):
        kwargs = {"table": self.table, "resource": self.resource}
        if self.column != "account_id":
            kwargs["column"] = self.column
        return self.__class__.__qualname__, [], kwargs

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        table = schema_editor.quote_name(self.table)
        for suffix, event, referencing in self.EVENTS:
            name = schema_editor.quote_name(f"{self.table}_cache_{suffix}")
            if not self.column:
                referencing = ""  # a global key needs no rows
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            schema_editor.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} {referencing} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION "
                f"cache_generations_bump('{self.column}', '{self.resource}')"
            )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        table = schema_editor.quote_name(self.table)
        for suffix, _event, _referencing in self.EVENTS:
            name = schema_editor.quote_name(f"{self.table}_cache_{suffix}")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")

    def describe(self):
        return f"Cache generation of {self.resource} bumped by changes to {self.table}"

    @property
    def migration_name_fragment(self):
        return f"cache_{self.table}"
