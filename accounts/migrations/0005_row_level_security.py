"""Row-level security on this app's tenant tables (core.tenancy, core.migration_ops)."""

from django.db import migrations

from core.migration_ops import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_tenancy_functions"),
        ("accounts", "0004_lithic_financial_account"),
    ]

    operations = [
        EnableTenantRLS(table="accounts", column="id"),
        EnableTenantRLS(table="accounts_history", column="id"),
        EnableTenantRLS(table="users"),
        EnableTenantRLS(table="users_history"),
        EnableTenantRLS(table="addresses"),
        EnableTenantRLS(table="addresses_history"),
        EnableTenantRLS(table="account_settings"),
        EnableTenantRLS(table="account_settings_history"),
        EnableTenantRLS(table="api_keys"),
        EnableTenantRLS(table="api_keys_history"),
        EnableTenantRLS(table="idempotency_keys"),
    ]
