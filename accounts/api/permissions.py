from __future__ import annotations

from rest_framework import permissions

from accounts.roles import role_may


class RolePermission(permissions.BasePermission):
    """Checks the role table (accounts.roles.POLICY) for the view's resource and action."""

    message = "Your role does not allow this."
    code = "permission_denied"

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user is None or not getattr(user, "is_authenticated", False):
            return False
        action = getattr(view, "action", None)
        if action is None:
            return True  # an unmapped method: let the view answer 405
        if action == "metadata":
            return True
        return role_may(user.role, view.policy_resource, action)
