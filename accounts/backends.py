"""The console's login: users are read in the narrow system context `auth`.

`users` is a tenant table under row-level security (core.tenancy). Before a login succeeds, or
while the session's user is being loaded, there is nobody yet whose context could show the row;
these reads, and the row's `last_login`, run as `system:auth`, and nothing else does.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import update_last_login

from core.db import use_primary
from core.tenancy import system_scope

AUTH_SCOPE = "auth"


class TenantAwareModelBackend(ModelBackend):
    # Users are read from the primary: a deactivated user or a changed password takes effect on
    # the next request, not once a replica has caught up.
    def authenticate(self, request, username=None, password=None, **kwargs):
        with system_scope(AUTH_SCOPE), use_primary():
            return super().authenticate(request, username=username, password=password, **kwargs)

    def get_user(self, user_id):
        with system_scope(AUTH_SCOPE), use_primary():
            return super().get_user(user_id)


def update_last_login_in_auth_scope(sender, user, **kwargs) -> None:
    with system_scope(AUTH_SCOPE):
        update_last_login(sender, user, **kwargs)
