"""Which function applies which Lithic event: `settings.WEBHOOK_HANDLERS`, resolved lazily.

A handler is `handler(payload: dict) -> int | None`. It commits its own effects durably (the
worker runs it outside any transaction), is idempotent per Lithic event token (an event may
run again after a crash), and may return the id of the local Account the event belongs to.
It raises `core.errors.EventIgnored(reason)` for an event about nothing of ours (marked IGNORED,
never retried); any other exception fails the event, to be retried with backoff.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

Handler = Callable[[dict[str, Any]], int | None]


def handler_for(event_type: str) -> Handler | None:
    """The handler of this event type, or None when we do not act on it (the event is ignored).

    An unimportable handler path raises ImportError, which fails the event (to be retried after
    the fix is deployed) rather than ignoring it.
    """
    path = settings.WEBHOOK_HANDLERS.get(event_type)
    if not path:
        return None
    return _import(path)


@functools.cache
def _import(path: str) -> Handler:
    return import_string(path)
