"""`flush` as the owner role: the runtime role may not TRUNCATE (core.roles)."""

from __future__ import annotations

from django.core.management.commands.flush import Command as DjangoFlush

from core.audit import system_actor
from core.roles import owner_connection


class Command(DjangoFlush):
    def handle(self, **options):
        with owner_connection(options["database"]), system_actor("command:flush"):
            return super().handle(**options)
