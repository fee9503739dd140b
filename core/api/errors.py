"""One error format for the whole API (drf-standardized-errors), with stable codes.

    {"type": "validation_error" | "client_error" | "server_error",
     "errors": [{"code": "...", "detail": "...", "attr": "field or null"}]}

Domain errors raised by services carry their own code; Django validation errors become
validation errors on the fields they name; a unique-constraint race becomes a 409.
"""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from drf_standardized_errors.handler import ExceptionHandler
from drf_standardized_errors.handler import exception_handler as standardized_handler
from drf_standardized_errors.openapi_serializers import ClientErrorEnum, ValidationErrorEnum
from rest_framework import exceptions, serializers, status

from core.errors import DomainError


class DomainRuleBroken(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the current state."


class Conflict(DomainRuleBroken):
    pass


class UnprocessableEntity(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "unprocessable"
    default_detail = "The request cannot be processed."


def django_validation_error_to_drf(exc: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(exc, "error_dict"):
        detail = {}
        for field, errors in exc.error_dict.items():
            key = "non_field_errors" if field == NON_FIELD_ERRORS else field
            detail[key] = [
                exceptions.ErrorDetail(message, code=error.code or "invalid")
                for error in errors
                for message in error.messages
            ]
        return exceptions.ValidationError(detail)
    return exceptions.ValidationError(
        {
            "non_field_errors": [
                exceptions.ErrorDetail(message, code=error.code or "invalid")
                for error in exc.error_list
                for message in error.messages
            ]
        }
    )


class ApiExceptionHandler(ExceptionHandler):
    def convert_known_exceptions(self, exc):
        if isinstance(exc, DomainError):
            converted = DomainRuleBroken(detail=exc.message, code=exc.code)
            converted.status_code = getattr(exc, "http_status", status.HTTP_409_CONFLICT)
            return converted
        if isinstance(exc, DjangoValidationError):
            return django_validation_error_to_drf(exc)
        if isinstance(exc, IntegrityError):
            # Validation runs first; this is a concurrent request that took the same unique
            # value between our check and our write.
            return Conflict(
                detail="Another request changed the same data at the same time; retry.",
                code="concurrent_update",
            )
        return super().convert_known_exceptions(exc)


# The very function drf-standardized-errors ships (not a wrapper): its OpenAPI generator
# documents the error responses only for views whose handler *is* this function.
exception_handler = standardized_handler


# --- OpenAPI: error responses whose codes are ours (see DRF_STANDARDIZED_ERRORS.ERROR_SCHEMAS) --


def _error_response_serializer(status_code: int, codes: str, *, kinds=ClientErrorEnum.choices):
    error = type(
        f"Error{status_code}Serializer",
        (serializers.Serializer,),
        {
            "code": serializers.CharField(help_text=codes),
            "detail": serializers.CharField(),
            "attr": serializers.CharField(allow_null=True),
        },
    )
    return type(
        f"ErrorResponse{status_code}Serializer",
        (serializers.Serializer,),
        {
            "type": serializers.ChoiceField(choices=kinds),
            "errors": error(many=True),
        },
    )


# Services validate with full_clean() and report model-level codes (`unique`, `invalid_type`,
# a nested `owner.token` ...) that per-field enums derived from the input serializer would
# not list: a 400 is documented as the general shape, with the field in `attr`.
ErrorResponse400Serializer = _error_response_serializer(
    400,
    "`parse_error` for a malformed body; otherwise why the field named in `attr` "
    "(null for the whole body) was refused, e.g. `required`, `invalid`, `does_not_exist`, "
    "`unique`",
    kinds=[*ValidationErrorEnum.choices, *ClientErrorEnum.choices],
)
ErrorResponse401Serializer = _error_response_serializer(
    401,
    "`not_authenticated`, `authentication_failed`, `invalid_api_key`, `api_key_expired`, "
    "`user_inactive` or `account_closed`",
)
ErrorResponse409Serializer = _error_response_serializer(
    409,
    "The rule the request broke, e.g. `card_closed`, `idempotency_key_in_use`, `concurrent_update`",
)
ErrorResponse422Serializer = _error_response_serializer(
    422, "`idempotency_key_invalid` or `idempotency_key_reused`"
)
