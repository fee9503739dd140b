"""Search by merchant: the names once each, with a trigram index, and a merchant's
transactions by name (decision 64)."""

from django.db import migrations, models

TRIGRAM_INDEX = "merchant_names_trgm_idx"


def trigram_index(apps, schema_editor):
    """pg_trgm's index on the names, for Django's case-insensitive match (UPPER(name) LIKE);
    PostgreSQL only."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON merchant_names "
        "USING gin (UPPER(name::text) gin_trgm_ops)"
    )


def names_seen(apps, schema_editor):
    """Every name already in a transaction (read as the system: every account)."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SELECT set_config('app.all_accounts', 'on', true)")
    schema_editor.execute(
        "INSERT INTO merchant_names (name) SELECT DISTINCT merchant_descriptor FROM transactions "
        "WHERE merchant_descriptor <> '' ON CONFLICT DO NOTHING"
    )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_audit_trail_permission"),
        ("cards", "0005_cache_generations"),
        ("spending", "0005_cache_generations"),
        ("transactions", "0008_daily_rollups"),
    ]

    operations = [
        migrations.CreateModel(
            name="MerchantName",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=255)),
            ],
            options={
                "db_table": "merchant_names",
            },
        ),
        migrations.AddIndex(
            model_name="transaction",
            index=models.Index(
                fields=["merchant_descriptor", "-transaction_date"],
                name="transactions_merchant_date_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="merchantname",
            constraint=models.UniqueConstraint(fields=("name",), name="merchant_names_name_uniq"),
        ),
        migrations.RunPython(trigram_index, drop_trigram_index, elidable=False),
        migrations.RunPython(names_seen, migrations.RunPython.noop, elidable=False),
    ]
