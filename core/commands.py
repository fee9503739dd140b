"""Base class for management commands: every write they make names them in the history, and
every read they make is the primary's (workers, sync and reconciliation decide on what they
read: a replica's lag would have them act on the past)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from core.audit import system_actor
from core.db import use_primary


class AuditedCommand(BaseCommand):
    """A command whose history rows carry the system actor `command:<name>`, reading the
    primary."""

    actor_name: str = ""

    def execute(self, *args, **options):
        name = self.actor_name or type(self).__module__.rsplit(".", 1)[-1]
        with system_actor(f"command:{name}"), use_primary():
            return super().execute(*args, **options)
