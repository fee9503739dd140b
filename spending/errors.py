"""Domain errors of spending profiles, each with a stable code."""

from __future__ import annotations

from core.errors import DomainError


class ProfileInUse(DomainError):
    code = "profile_in_use"
