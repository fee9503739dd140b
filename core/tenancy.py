"""Whose rows the database shows: the tenant context that row-level security reads.

Every table that carries `account_id` (and `accounts` itself) has a policy in PostgreSQL that
shows and accepts a row only when

- the context names that account (`app.account_id`), or
- the context is one that sees every account (`app.all_accounts = 'on'`): an operator in the
  console or a named system process (the responder, the webhook workers, commands).

Without a context nothing is shown and nothing can be written: the policies fail closed.

The context lives here, in Python, for the duration of a request, a command or a worker's unit of
work; `core.postgresql` puts it into every database transaction with `set_config(..., true)` in
the same round trip as that transaction's first statement. A transaction-local setting ends with
its transaction, so it can never reach the next user of a pooled connection (or of a PgBouncer
server connection).

Entry points set it explicitly:

- `TenancyMiddleware`: a request starts with no context; an active operator on the console's
  pages gets the operator context (`operator:<id>`);
- the API key authentication switches to the key's account (`api_key:<prefix>`);
- `system_scope(name)`: the responder, the webhook inbox and workers, commands (through
  `core.audit.system_actor`).
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# What an actor name may contain: it is written into SQL text as a literal (core.postgresql).
ACTOR_PATTERN = re.compile(r"[A-Za-z0-9:._@+-]{1,120}")

ACCOUNT_SETTING = "app.account_id"
ALL_ACCOUNTS_SETTING = "app.all_accounts"
ACTOR_SETTING = "app.actor"


@dataclass(frozen=True)
class Scope:
    """One tenant context: one account, or every account; `actor` names who holds it."""

    actor: str
    account_id: int | None = None
    all_accounts: bool = False

    def __post_init__(self) -> None:
        if not ACTOR_PATTERN.fullmatch(self.actor):
            raise ValueError(f"invalid actor name for a tenant context: {self.actor!r}")
        if self.account_id is not None and (
            isinstance(self.account_id, bool) or not isinstance(self.account_id, int)
        ):
            raise TypeError("account_id must be an int")
        if self.all_accounts == (self.account_id is not None):
            raise ValueError("a context names one account or every account")

    @property
    def kind(self) -> str:
        if self.account_id is not None:
            return "account"
        return "operator" if self.actor.startswith("operator:") else "system"


_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("tenant_scope", default=None)


def current_scope() -> Scope | None:
    return _scope.get()


@contextmanager
def scope(value: Scope | None) -> Iterator[Scope | None]:
    """Act in this context (None: no context, no rows) for the block."""
    token = _scope.set(value)
    try:
        yield value
    finally:
        _scope.reset(token)


def account_scope(account_id: int, actor: str):
    return scope(Scope(actor=actor, account_id=account_id))


def system_scope(name: str):
    """A named system process: sees every account. `name` is recorded as `system:<name>`."""
    return scope(Scope(actor=f"system:{name}", all_accounts=True))


def operator_scope(user_id: int):
    return scope(Scope(actor=f"operator:{user_id}", all_accounts=True))


def no_scope():
    return scope(None)


def enter_account(account_id: int, actor: str) -> None:
    """Switch the current request to one account, until `TenancyMiddleware` ends the request.

    For the API's authentication, which runs inside the view: the context must outlive the
    call that set it. Anywhere else, use `account_scope`.
    """
    _scope.set(Scope(actor=actor, account_id=account_id))


class TenancyMiddleware:
    """Each request starts with no context; the console's operators see every account.

    Placed after AuthenticationMiddleware. Loading the session's user reads `users`, which has
    its own policy, so it is read in the narrow system context `auth` (accounts.backends).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _scope.set(None)
        try:
            if self._is_console(request):
                user = request.user
                if user.is_authenticated and user.is_active and user.is_staff:
                    _scope.set(
                        Scope(actor=f"operator:{user.pk}", account_id=None, all_accounts=True)
                    )
            return self.get_response(request)
        finally:
            _scope.reset(token)

    @staticmethod
    def _is_console(request) -> bool:
        from django.urls import NoReverseMatch, reverse

        try:
            console = reverse("admin:index")
        except NoReverseMatch:  # a process without the console (its own URLs)
            return False
        return request.path.startswith(console)
