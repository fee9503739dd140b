"""Base classes for the API's viewsets: idempotent POSTs, tenant-scoped lookups by token,
soft delete, and the change history of any object."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts.api import idempotency
from core import response_cache
from core.encryption import BlindIndexField, EncryptedFieldMixin
from core.soft_delete import soft_delete

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=idempotency.HEADER,
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Makes the POST safe to retry: the first response is replayed for the same key and "
        "body (for at least 24 hours)."
    ),
)


class ApiViewSet(viewsets.GenericViewSet):
    """GenericViewSet whose POSTs honour Idempotency-Key (see accounts.api.idempotency).

    Subclasses set `policy_resource` (the row of accounts.roles.POLICY) and `model`, and
    implement `scoped(actor=...)` by calling a selector: every read starts from what the
    caller may see, so another account's token is a 404 like a token that does not exist.
    """

    policy_resource: str = ""
    model = None
    lookup_field = "token"
    lookup_value_converter = "uuid"

    def scoped(self, *, actor):
        raise NotImplementedError

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return self.model.objects.none()
        return self.scoped(actor=self.request.user)

    def dispatch(self, request, *args, **kwargs):
        # DRF's APIView.dispatch, with the handler and the stored response in one transaction.
        self.args = args
        self.kwargs = kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        claim = None
        try:
            self.initial(request, *args, **kwargs)
            if request.method.lower() in self.http_method_names:
                handler = getattr(self, request.method.lower(), self.http_method_not_allowed)
            else:
                handler = self.http_method_not_allowed
            key = request.headers.get(idempotency.HEADER) if request.method == "POST" else None
            if key is None:
                response = handler(request, *args, **kwargs)
            else:
                claim = idempotency.claim(request, key=key)
                with transaction.atomic():
                    response = handler(request, *args, **kwargs)
                    if not idempotency.is_server_error(response):
                        idempotency.complete(claim, response)
                        claim = None
        except idempotency.Replay as replay:
            response = replay.response
        except Exception as exc:
            response = self.handle_exception(exc)
        if claim is not None:
            # The request failed outside its transaction's commit: store client errors so the
            # retry gets the same answer, forget server errors so the retry runs again.
            if idempotency.is_server_error(response):
                idempotency.release(claim)
            else:
                idempotency.complete(claim, response)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    def validated_input(self, serializer_class, **kwargs) -> dict:
        """Validate the request body with an input serializer; 400 with field errors if not."""
        serializer = serializer_class(
            data=self.request.data, context=self.get_serializer_context(), **kwargs
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def output(self, instance, *, status: int = 200, serializer_class=None) -> Response:
        serializer_class = serializer_class or self.get_serializer_class()
        data = serializer_class(instance, context=self.get_serializer_context()).data
        return Response(data, status=status)


class CachedListMixin:
    """A list answered from the cache while nothing it shows has changed (core.response_cache).

    `cache_resources` names what the list's rows come from, e.g. `("cards",)` for the account's
    cards. The entry belongs to the caller (user and role: what they may see) and to the full
    URL (filters, page, host of the links), under the resources' current generations.
    """

    cache_resources: tuple[str, ...] = ()

    def uncached_list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def list(self, request, *args, **kwargs):
        if not self.cache_resources or not response_cache.enabled():
            return self.uncached_list(request, *args, **kwargs)
        actor = request.user
        keys = response_cache.generation_keys(self.cache_resources, account_id=actor.account_id)
        # The generations before the rows: an entry is never older than its generations.
        current = response_cache.generations(keys)
        query = sorted(request.query_params.lists())
        key = response_cache.entry_key(
            "api-list",
            (request.build_absolute_uri(request.path), query, actor.pk, actor.role, *current),
            keys=keys,
        )
        content = response_cache.get(key)
        if content is None:
            response = self.uncached_list(request, *args, **kwargs)
            content = JSONRenderer().render(response.data)
            response_cache.put(key, content)
        return HttpResponse(content, content_type="application/json")


class SoftDestroyMixin(mixins.DestroyModelMixin):
    """DELETE soft-deletes: the row leaves every list but stays, with its history."""

    def perform_destroy(self, instance):
        soft_delete(obj=instance)


# --- History ---------------------------------------------------------------------------------

# How a change by one of the card program's operators is attributed in a customer's history.
OPERATIONS = "Operations"
HISTORY_TYPES = {"+": "created", "~": "changed", "-": "deleted"}
_SKIP_IN_DIFF = {"updated_at"}


class HistoryUserSerializer(serializers.Serializer):
    token = serializers.UUIDField()
    email = serializers.EmailField()


class HistoryChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


class HistoryEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField(source="history_date")
    change = serializers.ChoiceField(choices=sorted(HISTORY_TYPES.values()))
    user = HistoryUserSerializer(allow_null=True)
    api_key = serializers.CharField(allow_blank=True, help_text="Prefix of the API key used")
    actor = serializers.CharField(allow_blank=True, help_text="System actor, e.g. a command")
    ip_address = serializers.IPAddressField(allow_null=True)
    changes = HistoryChangeSerializer(many=True)


def _plain(value):
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def _masked(value):
    if value in (None, ""):
        return value
    text = str(value)
    return f"••••{text[-4:]}" if len(text) >= 8 else "••••"


def _public_references(model, rows: list) -> dict[str, Callable]:
    """For each reference column, how to show it: numeric ids never leave the API, so a foreign
    key is shown as the row's token (one query per column for the whole page), a content type
    as its model name, and a generic owner as the owner's token."""
    shown: dict[str, Callable] = {}
    for field in model._meta.concrete_fields:
        if not field.is_relation:
            continue
        ids = {getattr(row, field.attname) for row in rows} - {None}
        related = field.related_model
        if related is ContentType:
            shown[field.attname] = lambda row, value: ContentType.objects.get_for_id(value).model
        elif any(f.name == "token" for f in related._meta.concrete_fields):
            tokens = dict(related._base_manager.filter(pk__in=ids).values_list("pk", "token"))
            shown[field.attname] = lambda row, value, tokens=tokens: tokens.get(value)
        else:
            shown[field.attname] = lambda row, value: None
    for generic in model._meta.private_fields:
        if not isinstance(generic, GenericForeignKey):
            continue
        type_attname = model._meta.get_field(generic.ct_field).attname
        by_type: dict[int, set] = {}
        for row in rows:
            by_type.setdefault(getattr(row, type_attname), set()).add(
                getattr(row, generic.fk_field)
            )
        tokens = {}
        for type_id, ids in by_type.items():
            related = ContentType.objects.get_for_id(type_id).model_class()
            for pk, token in related._base_manager.filter(pk__in=ids).values_list("pk", "token"):
                tokens[type_id, pk] = token
        shown[generic.fk_field] = lambda row, value, tokens=tokens, attname=type_attname: (
            tokens.get((getattr(row, attname), value))
        )
    return shown


def history_entries(model, rows: list, older) -> list[dict]:
    """Entries for history rows (newest first); `older` is the row just before the last."""
    fields = {
        f.attname: f
        for f in model._meta.concrete_fields
        if f.attname not in _SKIP_IN_DIFF
        and not isinstance(f, BlindIndexField)
        and not f.primary_key
    }
    references = _public_references(model, [*rows, *([older] if older is not None else [])])
    entries = []
    for index, row in enumerate(rows):
        previous = rows[index + 1] if index + 1 < len(rows) else older
        changes = []
        for attname, field in fields.items():
            if not hasattr(row, attname):
                continue  # excluded from history (e.g. the password hash)
            new = getattr(row, attname)
            old = getattr(previous, attname) if previous is not None else None
            if previous is not None and new == old:
                continue
            if previous is None and new in (None, ""):
                continue
            hide = isinstance(field, EncryptedFieldMixin)
            if attname in references:
                show = references[attname]
                old = show(previous, old) if old is not None else None
                new = show(row, new) if new is not None else None
            changes.append(
                {
                    "field": field.name,
                    "old": _masked(old) if hide else _plain(old),
                    "new": _masked(new) if hide else _plain(new),
                }
            )
        user = row.history_user
        # The card program's operators are named only as a team, never by email or address.
        # Their user rows belong to no account, so the caller's context does not even show
        # them: a change by a user the caller cannot see is an operator's.
        operator = row.history_user_id is not None and (user is None or user.account_id is None)
        change = HISTORY_TYPES.get(row.history_type, "changed")
        # A soft delete is a save that sets `deleted`; it is the row's deletion all the same.
        if (
            getattr(row, "deleted", None) is not None
            and previous is not None
            and getattr(previous, "deleted", None) is None
        ):
            change = HISTORY_TYPES["-"]
        entries.append(
            {
                "history_date": row.history_date,
                "change": change,
                "user": {"token": user.token, "email": user.email}
                if user and not operator
                else None,
                "api_key": row.history_api_key,
                "actor": OPERATIONS if operator else row.history_actor,
                "ip_address": None if operator else row.history_ip,
                "changes": changes,
            }
        )
    return entries


class HistoryPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = HistoryEntrySerializer(many=True)


class HistoryMixin:
    """`GET .../{token}/history/`: who changed what, when, from where; newest first."""

    @extend_schema(responses=HistoryPageSerializer, filters=False)
    @action(detail=True, methods=["get"], filter_backends=[])
    def history(self, request, *args, **kwargs):
        return self.history_response(self.get_object())

    def history_response(self, obj):
        return self.history_page(obj.history.all(), type(obj))

    def history_page(self, rows, model):
        """One page of history entries from `rows` (history rows of `model`), newest first."""
        rows = rows.select_related("history_user").order_by("-history_date", "-history_id")
        page = list(self.paginate_queryset(rows))
        older = None
        if page:
            last = page[-1]
            older = rows.filter(
                Q(history_date__lt=last.history_date)
                | Q(history_date=last.history_date, history_id__lt=last.history_id)
            ).first()
        entries = history_entries(model, page, older)
        return self.get_paginated_response(HistoryEntrySerializer(entries, many=True).data)
