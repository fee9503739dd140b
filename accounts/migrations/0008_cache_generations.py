"""Cached reads of users, addresses and settings follow their rows (core.response_cache)."""

from django.db import migrations

from core.migration_ops import CacheGenerationTriggers


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_api_key_last_write_at"),
        ("core", "0003_cache_generations"),
    ]

    operations = [
        CacheGenerationTriggers("users", "users"),
        CacheGenerationTriggers("addresses", "addresses"),
        CacheGenerationTriggers("account_settings", "settings"),
    ]
