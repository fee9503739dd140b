"""Row-level security on this app's tenant tables (core.tenancy, core.migration_ops)."""

from django.db import migrations

from core.migration_ops import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_tenancy_functions"),
        ("spending", "0003_trailing_windows_and_backtests"),
    ]

    operations = [
        EnableTenantRLS(table="spending_profiles"),
        EnableTenantRLS(table="spending_profiles_history"),
        EnableTenantRLS(table="profile_categories"),
        EnableTenantRLS(table="profile_categories_history"),
        EnableTenantRLS(table="auth_rule_backtests"),
    ]
