"""The tenant context as SQL: what row-level security policies compare rows with.

`app_account_id()` is the context's account (NULL without one); `app_all_accounts()` is true
for the operator and system contexts. Both read transaction-local settings that the app's
cursors set (core.postgresql); an empty or absent setting shows no row.
"""

from django.db import migrations

FUNCTIONS = """
CREATE OR REPLACE FUNCTION app_account_id() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.account_id', true), '')::bigint $$;
CREATE OR REPLACE FUNCTION app_all_accounts() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(current_setting('app.all_accounts', true), '') = 'on' $$;
"""

DROP = """
DROP FUNCTION IF EXISTS app_all_accounts();
DROP FUNCTION IF EXISTS app_account_id();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTIONS)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies: list = []

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
