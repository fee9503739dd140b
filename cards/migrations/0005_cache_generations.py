"""Cached reads of cards and card products follow their rows (core.response_cache)."""

from django.db import migrations

from core.migration_ops import CacheGenerationTriggers


class Migration(migrations.Migration):
    dependencies = [
        ("cards", "0004_row_level_security"),
        ("core", "0003_cache_generations"),
    ]

    operations = [
        CacheGenerationTriggers("cards", "cards"),
        CacheGenerationTriggers("card_products", "card_products"),
    ]
