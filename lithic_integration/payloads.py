"""Reading a signed body into JSON that every later step can handle.

A body can be valid JSON and still break what comes after it: nested thousands deep (Python's
parser recurses), a NUL character or a lone UTF-16 surrogate in a string (PostgreSQL's text and
jsonb refuse both), or a number no 64-bit field holds. Lithic sends none of these; whatever
carries one is read as unreadable, with the reason, and never reaches the database as such.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32  # Lithic's payloads nest six deep or so
MAX_INTEGER = 2**63 - 1  # Lithic's integers are int64


class UnreadablePayload(ValueError):
    """The body cannot be taken as Lithic's JSON; `value` is what parsed, if anything did."""

    def __init__(self, reason: str, *, value: Any = None):
        super().__init__(reason)
        self.reason = reason
        self.value = value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load(body: bytes) -> Any:
    """The body as JSON, or UnreadablePayload saying why it cannot be."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadablePayload("body is not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise UnreadablePayload(f"body is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise UnreadablePayload(f"body is not JSON: {str(exc)[:200]}") from None
    problem = _problem(value)
    if problem:
        raise UnreadablePayload(problem, value=value)
    return value


def _problem(value: Any) -> str:
    """What in `value` later steps cannot take, or "" (an iterative walk: no recursion)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            return f"body is nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, dict):
            for key, child in item.items():
                problem = text_problem(key)
                if problem:
                    return f"a key {problem}"
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return f"a string {problem}"
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_INTEGER:
            return "a number is beyond 64 bits"
    return ""


def text_problem(text: str) -> str:
    """Why PostgreSQL would refuse this text, or ""."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not Unicode text)"
    return ""


def storable(text: str) -> str:
    """`text` as PostgreSQL stores it: NUL and lone surrogates written out as escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
