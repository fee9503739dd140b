"""Domain errors of accounts, users, addresses and settings, each with a stable code."""

from __future__ import annotations

from core.errors import DomainError


class OwnerRoleRequired(DomainError):
    """Only an owner may make someone an owner, or demote, deactivate or delete an owner, or
    change an owner's email."""

    code = "owner_role_required"
    http_status = 403


class CannotDeleteSelf(DomainError):
    code = "cannot_delete_self"


class LastOwner(DomainError):
    """An account always keeps at least one active owner."""

    code = "last_owner"


class UnknownSetting(DomainError):
    code = "unknown_setting"
    http_status = 404
