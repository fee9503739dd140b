"""`migrate` as the owner role (DATABASE_MIGRATE_URL), then the runtime role's privileges.

Django's own command, run on a connection of the owner (core.roles); the migrations run in the
system context `command:migrate`, so a data migration sees every account's rows through the
policies. Without DATABASE_MIGRATE_URL, on the connection of DATABASE_URL as before.
"""

from __future__ import annotations

from django.core.management.commands.migrate import Command as DjangoMigrate

from core.audit import system_actor
from core.roles import grant_runtime_privileges, owner_connection


class Command(DjangoMigrate):
    def handle(self, *args, **options):
        alias = options["database"]
        with owner_connection(alias) as as_owner, system_actor("command:migrate"):
            result = super().handle(*args, **options)
            if as_owner:
                grant_runtime_privileges(alias)
                if options["verbosity"] >= 1:
                    self.stdout.write("Granted the runtime role its privileges.")
        return result
