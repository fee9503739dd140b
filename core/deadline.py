"""A deadline counted from when a request arrived: how much of its budget is left."""

from __future__ import annotations

import time
from dataclasses import dataclass


class DeadlinePassed(Exception):
    """The work's deadline passed before it could finish; nothing it did may stand."""


@dataclass(frozen=True)
class Deadline:
    """A point on the monotonic clock by which the work must be done."""

    at: float  # time.monotonic() seconds
    budget_ms: int

    @classmethod
    def after(cls, budget_ms: int, *, start: float | None = None) -> Deadline:
        """The deadline `budget_ms` after `start` (a time.monotonic() reading; default now)."""
        began = time.monotonic() if start is None else start
        return cls(at=began + budget_ms / 1000, budget_ms=budget_ms)

    def remaining_ms(self) -> int:
        """Whole milliseconds left, never below 0."""
        return max(0, int((self.at - time.monotonic()) * 1000))

    def elapsed_ms(self) -> int:
        return self.budget_ms - self.remaining_ms()

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.at

    def check(self, what: str) -> int:
        """The milliseconds left, or DeadlinePassed naming what could not start in time."""
        left = self.remaining_ms()
        if left <= 0:
            raise DeadlinePassed(f"{self.budget_ms} ms deadline passed before {what}")
        return left
