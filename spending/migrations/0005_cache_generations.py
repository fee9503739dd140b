"""Cached reads of spending profiles (with their rules) and of the MCC catalogue follow their
rows (core.response_cache)."""

from django.db import migrations

from core.migration_ops import CacheGenerationTriggers


class Migration(migrations.Migration):
    dependencies = [
        ("spending", "0004_row_level_security"),
        ("core", "0003_cache_generations"),
    ]

    operations = [
        CacheGenerationTriggers("spending_profiles", "spending_profiles"),
        CacheGenerationTriggers("profile_categories", "spending_profiles"),
        CacheGenerationTriggers("spending_categories", "spending_categories", column=""),
    ]
