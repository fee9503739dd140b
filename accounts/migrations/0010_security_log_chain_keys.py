"""The rows logged before the chain existed are chained in their order of arrival (by id).

The append-only trigger refuses the UPDATE that fills in their places, so it is switched off
for this transaction only (the owner role runs migrations; accounts.security describes the
chain). The hash is the one `accounts.security.chain_hash` computes: its format is fixed
for good, since every recorded row depends on it.
"""

from django.db import migrations, models

TRIGGER = "security_events_append_only"


def chain_existing_rows(apps, schema_editor):
    from accounts.security import GENESIS_HASH, chain_hash

    SecurityEvent = apps.get_model("accounts", "SecurityEvent")
    alias = schema_editor.connection.alias
    postgresql = schema_editor.connection.vendor == "postgresql"
    if postgresql:
        schema_editor.execute(f"ALTER TABLE security_events DISABLE TRIGGER {TRIGGER}")
    prev_hash = GENESIS_HASH
    for seq, event in enumerate(
        SecurityEvent.objects.using(alias).order_by("id").iterator(chunk_size=2000), start=1
    ):
        event.seq, event.prev_hash = seq, prev_hash
        event.row_hash = chain_hash(prev_hash, event)
        event.save(update_fields=["seq", "prev_hash", "row_hash"])
        prev_hash = event.row_hash
    if postgresql:
        schema_editor.execute(f"ALTER TABLE security_events ENABLE TRIGGER {TRIGGER}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_security_log_chain"),
    ]

    operations = [
        migrations.RunPython(chain_existing_rows, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="securityevent",
            name="prev_hash",
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name="securityevent",
            name="row_hash",
            field=models.CharField(max_length=64, unique=True),
        ),
        migrations.AlterField(
            model_name="securityevent",
            name="seq",
            field=models.BigIntegerField(
                help_text="Position in the hash chain, from 1", unique=True
            ),
        ),
    ]
