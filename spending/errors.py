"""Domain errors of spending profiles, each with a stable code."""

from __future__ import annotations

from core.errors import DomainError


class ProfileInUse(DomainError):
    code = "profile_in_use"


class BacktestNotPossible(DomainError):
    """A backtest needs the profile's rule to exist at Lithic."""

    code = "backtest_not_possible"
