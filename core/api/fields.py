"""Serializer fields for public identifiers: objects are referred to by UUID token, resolved
within what the caller may see, so another tenant's token is simply "not found"."""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field(OpenApiTypes.UUID)
class TokenRelatedField(serializers.RelatedField):
    """A foreign key written and read as the related row's `token`.

    `scope(actor)` returns the queryset the caller may refer to (a selector).
    """

    default_error_messages = {
        "does_not_exist": "No {name} with token {value}.",
        "invalid": "Must be a UUID token.",
    }

    def __init__(self, *, scope: Callable, name: str, **kwargs):
        self.scope = scope
        self.name = name
        if kwargs.get("read_only"):
            super().__init__(**kwargs)
        else:
            super().__init__(queryset=None, **kwargs)

    def get_queryset(self):
        request = self.context["request"]
        return self.scope(actor=request.user)

    def to_internal_value(self, data):
        import uuid

        try:
            token = uuid.UUID(str(data))
        except (TypeError, ValueError, AttributeError):
            self.fail("invalid")
        try:
            return self.get_queryset().get(token=token)
        except self.get_queryset().model.DoesNotExist:
            self.fail("does_not_exist", name=self.name, value=token)

    def to_representation(self, value):
        return str(value.token)

    def get_choices(self, cutoff=None):
        return {}
