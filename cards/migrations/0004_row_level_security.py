"""Row-level security on this app's tenant tables (core.tenancy, core.migration_ops)."""

from django.db import migrations

from core.migration_ops import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_tenancy_functions"),
        ("cards", "0003_deprecated_card_types"),
    ]

    operations = [
        EnableTenantRLS(table="card_products"),
        EnableTenantRLS(table="card_products_history"),
        EnableTenantRLS(table="cards"),
        EnableTenantRLS(table="cards_history"),
    ]
