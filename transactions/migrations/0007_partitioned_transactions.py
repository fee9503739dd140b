"""`transactions` partitioned by month of `transaction_date`, `transaction_keys` keeping id and
token unique across the partitions (transactions.partitioning, docs/decisions.md 45).

An empty table is converted here. A table with rows gets the partitioned table built beside
it, kept current by a trigger; `manage.py partition_transactions` then copies, checks and
swaps (docs/operations.md). On SQLite only the model state changes: `transactions.token` keeps
its unique index there.
"""

import uuid

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

from core.migration_ops import EnableTenantRLS


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from transactions import partitioning

    with schema_editor.connection.cursor() as cursor:
        cursor.execute(partitioning.FUNCTIONS_SQL)
        cursor.execute(partitioning.RETIRED_SQL)
        if partitioning.is_partitioned(cursor):
            return
        if not partitioning.convert_empty(cursor, now=timezone.now()):
            partitioning.build(cursor, now=timezone.now())
            print(
                "\n  transactions has rows: the partitioned table is built beside it and kept "
                "current.\n  Run `manage.py partition_transactions` to copy, check and swap "
                "(docs/operations.md)."
            )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_operator_read_events"),
        ("transactions", "0006_row_level_security"),
    ]

    operations = [
        # State only: the unique index stays on an unpartitioned table (and on SQLite) until
        # the partitioned one, whose uniqueness transaction_keys keeps, takes its place.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="transaction",
                    name="token",
                    field=models.UUIDField(db_index=True, default=uuid.uuid4, editable=False),
                ),
            ]
        ),
        migrations.CreateModel(
            name="TransactionKey",
            fields=[
                (
                    "id",
                    models.BigIntegerField(
                        help_text="The transaction's id", primary_key=True, serialize=False
                    ),
                ),
                ("token", models.UUIDField(help_text="The transaction's token", unique=True)),
                (
                    "transaction_date",
                    models.DateTimeField(help_text="The partition the transaction is in"),
                ),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="accounts.account",
                    ),
                ),
            ],
            options={"db_table": "transaction_keys"},
        ),
        EnableTenantRLS(table="transaction_keys"),
        # Irreversible on PostgreSQL: going back would need the whole conversion the other way.
        migrations.RunPython(forwards, elidable=False),
    ]
