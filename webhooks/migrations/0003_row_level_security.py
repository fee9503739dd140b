"""Row-level security on this app's tenant tables (core.tenancy, core.migration_ops)."""

from django.db import migrations

from core.migration_ops import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_tenancy_functions"),
        ("webhooks", "0002_worker_leases"),
    ]

    operations = [
        EnableTenantRLS(table="webhooks"),
    ]
