"""Row-level security on this app's tenant tables (core.tenancy, core.migration_ops)."""

from django.db import migrations

from core.migration_ops import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_tenancy_functions"),
        ("transactions", "0005_event_source_status"),
    ]

    operations = [
        EnableTenantRLS(table="transactions"),
        EnableTenantRLS(table="transaction_events"),
        EnableTenantRLS(table="spend_counters"),
        EnableTenantRLS(table="account_funds"),
        EnableTenantRLS(table="ledger_entries"),
        EnableTenantRLS(table="unmatched_authorizations"),
        EnableTenantRLS(table="disputes"),
        EnableTenantRLS(table="dispute_events"),
        EnableTenantRLS(table="transaction_enhanced_data"),
        EnableTenantRLS(table="balance_reports"),
    ]
