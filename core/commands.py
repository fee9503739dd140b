"""Base class for management commands: every write they make names them in the history."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from core.audit import system_actor


class AuditedCommand(BaseCommand):
    """A command whose history rows carry the system actor `command:<name>`."""

    actor_name: str = ""

    def execute(self, *args, **options):
        name = self.actor_name or type(self).__module__.rsplit(".", 1)[-1]
        with system_actor(f"command:{name}"):
            return super().execute(*args, **options)
