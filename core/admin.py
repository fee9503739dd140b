"""Base classes of the operator console: audited business rows and permanent financial records.

`BusinessModelAdmin` joins django-simple-history's history pages to django-safedelete's
changelist (soft-deleted rows shown on demand, highlighted, and restorable). Deletion from the
console is always soft. `FinancialRecordAdmin` is a read-only view tuned for huge tables.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import uuid
from collections.abc import Iterator

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import (
    NotRelationField,
    get_fields_from_path,
    model_ngettext,
    quote,
)
from django.contrib.auth import get_permission_codename
from django.core.exceptions import (
    NON_FIELD_ERRORS,
    EmptyResultSet,
    FieldDoesNotExist,
    PermissionDenied,
    ValidationError,
)
from django.core.paginator import Paginator
from django.db import connections, models, router, transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from safedelete.admin import SafeDeleteAdmin, SafeDeleteAdminFilter, highlight_deleted
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper
from simple_history.utils import get_history_manager_for_model

from core.encryption import BlindIndexField, EncryptedFieldMixin, blind_index_filter
from core.errors import DomainError
from core.money import format_money
from core.soft_delete import UndeleteConflict, soft_delete, undelete

__all__ = [
    "ObjectButton",
    "PagePanel",
    "RelatedHistory",
    "RelatedHistoryMixin",
    "ServiceRefusalMixin",
    "ReadOnlyAdminMixin",
    "RecordPageMixin",
    "RECORD_FIELDSET",
    "BusinessInlineMixin",
    "BusinessModelAdmin",
    "BusinessModelForm",
    "DeletedFilter",
    "EstimatedCountPaginator",
    "FinancialRecordAdmin",
    "FinancialRecordInline",
    "change_page_panel",
    "money_column",
    "highlight_deleted",
    "masked_pii",
]

ESTIMATED_COUNT_THRESHOLD = 10_000
# A filtered list the planner thinks small is counted up to this many rows, then "more than".
COUNTED_AT_MOST = 1_000

# A partitioned parent has no rows of its own: its estimate is the sum over its partitions.
_ROW_ESTIMATE_SQL = """
    SELECT CASE WHEN c.relkind = 'p' THEN (
               SELECT COALESCE(SUM(GREATEST(part.reltuples, 0)), 0)
               FROM pg_inherits i JOIN pg_class part ON part.oid = i.inhrelid
               WHERE i.inhparent = c.oid)
           ELSE GREATEST(c.reltuples, 0) END
    FROM pg_class c
    WHERE c.oid = to_regclass(%s)
"""


RECORD_FIELDSET = (
    "Record",
    {"classes": ("collapse",), "fields": ("token", "created_at", "updated_at", "deleted")},
)
"""The bookkeeping fields every business row has, for the end of a `fieldsets`."""


def masked_pii(value) -> str:
    """A PII value reduced to its last four characters (dates and short values hidden whole)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str) and len(value) >= 8:
        return f"•••• {value[-4:]}"
    return "••••"


# --- What other apps add to a record's page ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PagePanel:
    """A section of a change page: `template` rendered with `context` (and `panel`)."""

    id: str
    title: str
    template: str
    context: dict
    order: int = 100  # lower first


@dataclasses.dataclass(frozen=True)
class ObjectButton:
    """A button at the top of a change page, leading to a page that asks before it acts."""

    id: str
    label: str
    url: str


_PANELS: dict[type[models.Model], list] = {}


def change_page_panel(model: type[models.Model]):
    """Register `func(request, obj) -> PagePanel | None`: a section of `model`'s change page.

    An app higher in the dependency order adds what it knows about a lower app's record (a
    card's transactions, an account's cards) without the lower app importing it.
    """

    def register(func):
        _PANELS.setdefault(model, []).append(func)
        return func

    return register


def page_panels(request, obj) -> list[PagePanel]:
    panels = (func(request, obj) for func in _PANELS.get(type(obj), ()))
    return sorted((panel for panel in panels if panel is not None), key=lambda p: p.order)


def money_column(field: str, *, currency_field: str = "", description: str = ""):
    """A list column showing `field` as money ($1,234.56), right-aligned, sortable."""

    def column(obj) -> str:
        currency = getattr(obj, currency_field) if currency_field else "USD"
        return format_money(getattr(obj, field), currency or "USD")

    column.__name__ = f"money_{field}"
    return admin.display(description=description or field.replace("_", " "), ordering=field)(column)


def _is_autocomplete(request) -> bool:
    match = getattr(request, "resolver_match", None)
    return match is not None and match.url_name == "autocomplete"


# --- Pagination --------------------------------------------------------------------------------


class EstimatedCountPaginator(Paginator):
    """Uses PostgreSQL's row estimate instead of COUNT(*) for a huge, unfiltered list.

    COUNT(*) reads the whole table; on millions of rows that is most of the page's time. Once a
    filter or search narrows the list, the count is exact again.
    """

    estimated = False  # the count is the planner's estimate (the pages say "about")
    capped = False  # more rows match than were counted (the pages say "more than")

    @cached_property
    def count(self) -> int:
        estimate = self._estimated_count()
        if estimate is not None and estimate > ESTIMATED_COUNT_THRESHOLD:
            self.estimated = True
            return estimate
        queryset = self.object_list
        if estimate is None or not isinstance(queryset, models.QuerySet):
            return super().count
        # Counted, up to one past COUNTED_AT_MOST: under row-level security the planner's
        # estimate of a filtered list can be far too low (decision 66), and an exact count of a
        # filter that matches much would read the table.
        with _bounded_read(queryset.db):
            counted = queryset.order_by().values("pk")[: COUNTED_AT_MOST + 1].count()
        self.capped = counted > COUNTED_AT_MOST
        return counted

    def _estimated_count(self) -> int | None:
        queryset = self.object_list
        if not isinstance(queryset, models.QuerySet):
            return None
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return None
        if queryset.query.where:
            # Filtered: the planner's estimate of the rows that match. A narrow filter (a
            # token, a small card) estimates below the threshold and is counted exactly.
            try:
                plan = self._plan()
            except EmptyResultSet:
                return 0  # a condition nothing can match (a search term of the wrong type)
            return int(plan["Plan"]["Plan Rows"])
        with connection.cursor() as cursor:
            table = connection.ops.quote_name(queryset.model._meta.db_table)
            cursor.execute(_ROW_ESTIMATE_SQL, [table])
            row = cursor.fetchone()
        if row is None or row[0] is None:
            return None
        return int(row[0])

    def _plan(self) -> dict:
        """The planner's plan of the list (EXPLAIN, nothing run), as a JSON object."""
        queryset = self.object_list
        sql, params = queryset.values("pk").query.sql_with_params()
        # Without JIT: even a plain EXPLAIN starts the executor, and once the plan's cost
        # passes jit_above_cost (a few million rows) that compiles its expressions, which
        # took longer than the planning itself (decision 48).
        with _local_settings(queryset.db, jit="off"), connections[queryset.db].cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)  # noqa: S608
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        return plan[0]

    def page(self, number):
        """A page in the second half is read from the end, in the reverse order: the last page
        costs what the first does, where an OFFSET would walk past every row before it."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        if top + self.orphans >= self.count:
            top = self.count
        queryset = self.object_list
        if not (isinstance(queryset, models.QuerySet) and queryset.ordered):
            return super().page(number)
        if bottom > self.count // 2 and not self.capped:
            from_end = self.count - top
            rows = _in_index_order(queryset.reverse()[from_end : from_end + (top - bottom)])
            rows.reverse()
        else:
            rows = _in_index_order(queryset[bottom:top])
        return self._get_page(rows, number, self)


def _in_index_order(queryset) -> list:
    """The rows of an ordered page, read along the index of their order and stopped at the
    page's end. Under row-level security the planner underestimates how many rows a filter
    matches, by a hundred times and more; believing them few, it would read every match and
    sort them (seconds on millions of rows). Without sorting it walks the ordering's index and
    stops at the page's end (decision 66)."""
    if not isinstance(queryset, models.QuerySet):
        return list(queryset)  # sliced from rows already read
    with _bounded_read(queryset.db):
        return list(queryset)


@contextlib.contextmanager
def _bounded_read(alias: str) -> Iterator[None]:
    """A read that stops after a page, or after COUNTED_AT_MOST rows: without sorting, and
    without JIT. The same underestimate prices such a read as the whole scan it would be if
    few rows matched; past `jit_above_cost` PostgreSQL then spent longer compiling the plan
    than running it (decision 67)."""
    with _local_settings(alias, enable_sort="off", jit="off"):
        yield


@contextlib.contextmanager
def _local_settings(alias: str, **values: str) -> Iterator[None]:
    """PostgreSQL settings for the statements of the block only, in a transaction of its own,
    or in a savepoint of the caller's, whose other statements keep the settings they had."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        yield
        return
    nested = connection.in_atomic_block
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        if nested:
            cursor.execute("SELECT " + ", ".join(["current_setting(%s)"] * len(values)), [*values])
            before = dict(zip(values, cursor.fetchone(), strict=True))
        _set_locally(cursor, values)
        yield
        if nested:
            _set_locally(cursor, before)


def _set_locally(cursor, values: dict[str, str]) -> None:
    assignments = ", ".join(["set_config(%s, %s, true)"] * len(values))
    cursor.execute(f"SELECT {assignments}", [item for pair in values.items() for item in pair])


# --- Search ------------------------------------------------------------------------------------


class IndexedSearchMixin:
    """`=field` search that PostgreSQL can answer from an index.

    Django turns `=field` into `iexact`, which wraps the column in UPPER() (casting UUIDs to
    text first), so every search reads the whole table. Here `=field` on a UUID column or an
    indexed text column compares the whole search term exactly, and `=field` on an encrypted
    column with a blind index goes through that index. Other search fields keep Django's
    behaviour.
    """

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        exact_paths = self._exact_search_paths(request)
        if not term or not exact_paths:
            return super().get_search_results(request, queryset, search_term)

        exact = models.Q()
        for path, field in exact_paths.items():
            condition = _exact_search_condition(path, field, term)
            if condition is not None:
                exact |= condition
        results = queryset.filter(exact) if exact else queryset.none()

        may_have_duplicates = False
        others = tuple(
            name
            for name in self.get_search_fields(request)
            if not (name.startswith("=") and name[1:] in exact_paths)
        )
        if others:
            # Django's own search over the remaining fields, OR-ed with the exact matches.
            narrowed = copy.copy(self)
            narrowed.search_fields = others
            other_results, may_have_duplicates = super(
                IndexedSearchMixin, narrowed
            ).get_search_results(request, queryset, search_term)
            results = results | other_results
        return results, may_have_duplicates

    def _exact_search_paths(self, request) -> dict[str, models.Field]:
        paths = {}
        for name in self.get_search_fields(request):
            if not name.startswith("="):
                continue
            path = name[1:]
            try:
                field = get_fields_from_path(self.model, path)[-1]
            except (FieldDoesNotExist, NotRelationField):
                continue
            indexed_text = isinstance(field, models.CharField) and (field.unique or field.db_index)
            if isinstance(field, models.UUIDField | EncryptedFieldMixin) or indexed_text:
                paths[path] = field
        return paths


def _exact_search_condition(path: str, field: models.Field, term: str) -> models.Q | None:
    if isinstance(field, EncryptedFieldMixin):
        index = next(
            (
                f
                for f in field.model._meta.concrete_fields
                if isinstance(f, BlindIndexField) and f.source == field.name
            ),
            None,
        )
        if index is None:
            return None  # an encrypted column without a blind index cannot be searched
        prefix = path[: -len(field.name)]
        return models.Q(**blind_index_filter(prefix + index.name, term))
    if isinstance(field, models.UUIDField):
        try:
            return models.Q(**{path: uuid.UUID(term)})
        except ValueError:
            return None
    if field.max_length is not None and len(term) > field.max_length:
        return None
    return models.Q(**{path: term})


# --- Forms -------------------------------------------------------------------------------------


class BusinessModelForm(forms.ModelForm):
    """ModelForm that also checks the "unique among live rows" constraints.

    Django's form validation skips a conditional unique constraint whenever the constraint
    touches a field outside the form. "Unique among live rows" conditions read `deleted`,
    which is never a form field, so they were never checked and a clash only surfaced as an
    IntegrityError (a server error).
    """

    # Messages for conditional unique constraints, by constraint name, where the generic
    # "... with this X and Y already exists" would mislead.
    constraint_messages: dict[str, str] = {}

    def _update_errors(self, errors):
        # Model validation may name a field this form does not edit (read-only or derived, such
        # as a row's account); Django would fail on that, so show it as a form-wide error.
        if hasattr(errors, "error_dict"):
            placed: dict[str, list] = {}
            for field, messages in errors.error_dict.items():
                key = field if field in self.fields else NON_FIELD_ERRORS
                placed.setdefault(key, []).extend(messages)
            errors = ValidationError(placed)
        super()._update_errors(errors)

    def validate_unique(self):
        super().validate_unique()
        skipped_by_django = self._get_validation_exclusions()
        # Fields outside the form carry saved or derived values and can be checked; only
        # fields that failed (or were left empty) in this form are left out.
        exclude = {name for name in skipped_by_django if name in self.fields}
        using = router.db_for_write(type(self.instance), instance=self.instance)
        errors: dict[str, list] = {}
        for model_class, constraints in self.instance.get_constraints():
            for constraint in constraints:
                if not (
                    isinstance(constraint, models.UniqueConstraint)
                    and constraint.condition is not None
                    and constraint.fields
                ):
                    continue
                touched = {*constraint.fields, *constraint.condition.referenced_base_fields}
                if not touched & skipped_by_django:
                    continue  # Django has checked this one already
                try:
                    constraint.validate(model_class, self.instance, exclude=exclude, using=using)
                except ValidationError:
                    message = self.constraint_messages.get(
                        constraint.name,
                        self.instance.unique_error_message(model_class, constraint.fields),
                    )
                    fields = constraint.fields
                    key = fields[0] if len(fields) == 1 and fields[0] in self.fields else None
                    errors.setdefault(key or NON_FIELD_ERRORS, []).append(message)
        if errors:
            self._update_errors(ValidationError(errors))


# --- Personal data on change forms ------------------------------------------------------------

# What is shown for a hidden value; the value itself never reaches the page.
REVEAL_URL_NAME = "admin:reveal_pii"
CLEAR_SUFFIX = "__clear"


def pii_field_names(model) -> list[str]:
    return [
        field.name
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedFieldMixin)
    ]


class MaskedPiiWidget(forms.TextInput):
    """An input that is always empty: the current value appears masked as its placeholder,
    with a Reveal link for operators allowed to reveal it (which asks for a reason and is
    logged). Left empty, the value stays as it is; typed into, it is replaced."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.masked = ""
        self.reveal_url = ""
        self.clearable = False

    def format_value(self, value):
        return None  # never render the stored value

    def render(self, name, value, attrs=None, renderer=None):
        attrs = dict(attrs or {})
        if self.masked:
            attrs["placeholder"] = f"{self.masked} (hidden: type to replace)"
        html = super().render(name, None, attrs, renderer)
        if self.reveal_url:
            html += format_html(
                ' <a href="{}" class="reveal-pii" data-field="{}">Reveal</a>', self.reveal_url, name
            )
        if self.clearable and self.masked:
            html += format_html(
                ' <label class="pii-clear"><input type="checkbox" name="{}"> Remove</label>',
                name + CLEAR_SUFFIX,
            )
        return mark_safe(html)  # noqa: S308 - every part above is escaped by format_html


class PiiFormMixin:
    """Personal data fields of a model form: shown masked, kept when left empty.

    `can_reveal` is set on the form class by the admin for the request's operator.
    """

    can_reveal = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        self._pii_fields = [name for name in pii_field_names(type(instance)) if name in self.fields]
        for name in self._pii_fields:
            field = self.fields[name]
            model_field = instance._meta.get_field(name)
            current = getattr(instance, name, None) if instance.pk else None
            field.widget = MaskedPiiWidget(attrs=field.widget.attrs)
            field.widget.masked = masked_pii(current)
            field.widget.clearable = model_field.blank
            field.required = False
            field._pii_has_value = current not in (None, "")
            field._pii_required = not model_field.blank
            if self.can_reveal and instance.pk and field._pii_has_value:
                opts = instance._meta
                field.widget.reveal_url = reverse(
                    REVEAL_URL_NAME,
                    args=(opts.app_label, opts.model_name, quote(instance.pk), name),
                )

    def _pii_cleared(self, name: str) -> bool:
        return self.data.get(self.add_prefix(name) + CLEAR_SUFFIX) in ("on", "true", "1")

    @cached_property
    def changed_data(self):
        # A field left empty was not changed, whatever its hidden value: the console's change
        # message must not say otherwise.
        return [
            name
            for name in super().changed_data
            if name not in self._pii_fields
            or self._pii_cleared(name)
            or self.data.get(self.add_prefix(name)) not in (None, "")
        ]

    def clean(self):
        cleaned = super().clean()
        for name in self._pii_fields:
            field = self.fields[name]
            typed = cleaned.get(name) not in (None, "")
            cleared = self._pii_cleared(name)
            if typed:
                continue
            if cleared:
                if field._pii_required:
                    self.add_error(name, "This field is required; type a new value instead.")
                continue
            if field._pii_has_value:
                cleaned.pop(name, None)  # left empty: the stored value stays
            elif field._pii_required and name not in self.errors:
                self.add_error(name, forms.Field.default_error_messages["required"])
        return cleaned


class PiiAdminMixin:
    """Masks personal data on the change form and in its read-only view; editing does not
    need the old value revealed. Revealing is the `accounts.reveal_pii` permission's."""

    reveal_permission = "accounts.reveal_pii"

    def _with_pii_form(self, form_class, request):
        can_reveal = request.user.has_perm(self.reveal_permission)
        return type(form_class.__name__, (PiiFormMixin, form_class), {"can_reveal": can_reveal})

    def get_form(self, request, obj=None, change=False, **kwargs):
        return self._with_pii_form(super().get_form(request, obj, change=change, **kwargs), request)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = self._with_pii_form(formset.form, request)
        return formset

    def _view_only(self, request, obj) -> bool:
        return obj is not None and not self.has_change_permission(request, obj)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self._view_only(request, obj):
            return fieldsets
        hidden = set(pii_field_names(self.model))

        def swap(names):
            return tuple(
                swap(name) if isinstance(name, (list, tuple)) else
                (f"masked_{name}" if name in hidden else name)
                for name in names
            )  # fmt: skip

        return [
            (title, {**options, "fields": swap(options["fields"])}) for title, options in fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if self._view_only(request, obj):
            fields += tuple(f"masked_{name}" for name in pii_field_names(self.model))
        return fields

    def __getattr__(self, name):
        if name.startswith("masked_") and name[7:] in pii_field_names(self.model):
            field = self.model._meta.get_field(name[7:])

            def display(obj):
                return masked_pii(getattr(obj, field.name))

            display.short_description = field.verbose_name
            return display
        raise AttributeError(name)


# --- Business rows -----------------------------------------------------------------------------


class DeletedFilter(SafeDeleteAdminFilter):
    """safedelete's filter, with its default choice labelled for what it shows: live rows."""

    def choices(self, changelist):
        choices = iter(super().choices(changelist))
        default = next(choices)
        yield {**default, "display": "Live only"}
        yield from choices


class _MaskedHistoryContextHelper(HistoricalRecordContextHelper):
    """History diffs that show that PII changed, never its plaintext."""

    def context_for_delta_changes(self, delta):
        # Blind indexes are HMACs that change with their source field: noise in a diff.
        changes = [
            change
            for change in delta.changes
            if not isinstance(self.model._meta.get_field(change.field), BlindIndexField)
        ]
        return super().context_for_delta_changes(dataclasses.replace(delta, changes=changes))

    def prepare_delta_change_value(self, change, value):
        if isinstance(self.model._meta.get_field(change.field), EncryptedFieldMixin):
            return masked_pii(value)
        return super().prepare_delta_change_value(change, value)


def _is_deleted(obj) -> bool:
    return obj is not None and getattr(obj, "deleted", None) is not None


class RecordPageMixin:
    """A record's page shows its neighbours (panels other apps register) and the buttons of
    what can be done to it (`object_buttons`, none for a deleted row)."""

    def object_buttons(self, request, obj) -> list[ObjectButton]:
        return []

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["panels"] = page_panels(request, obj)
            if not _is_deleted(obj):
                context["object_buttons"] = self.object_buttons(request, obj)
        return super().render_change_form(  # type: ignore[misc]
            request, context, add, change, form_url, obj
        )


class BusinessModelAdmin(
    RecordPageMixin, PiiAdminMixin, IndexedSearchMixin, SimpleHistoryAdmin, SafeDeleteAdmin
):
    """Admin for a `core.models.BusinessModel`: soft delete, undelete and change history.

    The changelist shows live rows; the "Deleted" filter brings soft-deleted rows in,
    highlighted. A soft-deleted row can be viewed and its history read, but not edited:
    saving it would silently undelete it. It comes back only through "Undelete selected".
    """

    form = BusinessModelForm
    delete_confirmation_template = "admin/soft_delete_confirmation.html"
    delete_selected_confirmation_template = "admin/soft_delete_selected_confirmation.html"
    list_display = (highlight_deleted, "created_at")
    list_filter = (DeletedFilter,)
    readonly_fields = ("token", "created_at", "updated_at", "deleted")
    # Fields set when the row is created and fixed afterwards (e.g. the owning account).
    change_readonly_fields: tuple[str, ...] = ()
    actions: tuple[str, ...] = ("delete_selected", "undelete_selected")
    # The history page's columns are its template's: when, who, change, why, what, from.
    object_history_list_template = "admin/object_history_list.html"

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += tuple(name for name in self.change_readonly_fields if name not in fields)
        return fields

    def has_change_permission(self, request, obj=None):
        if _is_deleted(obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if _is_deleted(obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_search_results(self, request, queryset, search_term):
        if _is_autocomplete(request):
            # The changelist may show deleted rows; a foreign-key picker must not offer them.
            queryset = queryset.filter(deleted__isnull=True)
        return super().get_search_results(request, queryset, search_term)

    # -- deletion: always soft --

    def get_deleted_objects(self, objs, request):
        # A soft delete marks exactly the selected rows: nothing cascades and references to
        # them stay valid, so Django's cascade collector (which would also refuse because of
        # PROTECT references) does not describe what happens.
        opts = self.model._meta
        objs = list(objs)
        url_name = f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change"
        to_delete = [
            format_html(
                '{}: <a href="{}">{}</a>',
                capfirst(opts.verbose_name),
                reverse(url_name, args=(quote(obj.pk),)),
                obj,
            )
            for obj in objs
        ]
        model_count = {opts.verbose_name_plural: len(objs)} if objs else {}
        perms_needed = set() if self.has_delete_permission(request) else {opts.verbose_name}
        return to_delete, model_count, perms_needed, []

    def delete_model(self, request, obj):
        soft_delete(obj=obj)

    def response_delete(self, request, obj_display, obj_id):
        if IS_POPUP_VAR in request.POST:
            return super().response_delete(request, obj_display, obj_id)
        self.message_user(
            request,
            f"The {self.opts.verbose_name} “{obj_display}” was soft-deleted: it is kept, with "
            "its history, and can be undeleted from the list (filter “Deleted”).",
            messages.SUCCESS,
        )
        changelist = reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_changelist"
        )
        if not self.has_view_or_change_permission(request):
            changelist = reverse(f"{self.admin_site.name}:index")
        return HttpResponseRedirect(changelist)

    @admin.action(permissions=["delete"], description="Delete selected %(verbose_name_plural)s")
    def delete_selected(self, request, queryset):
        """Django's action (its confirmation page), reporting what happened: a soft delete."""
        if not request.POST.get("post"):
            return delete_selected(self, request, queryset)
        live = list(queryset.filter(deleted__isnull=True))
        if live:
            self.delete_queryset(request, queryset)
            # What was deleted (a service may have refused some, and said why).
            gone = set(
                self.model.all_objects.filter(
                    pk__in=[obj.pk for obj in live], deleted__isnull=False
                ).values_list("pk", flat=True)
            )
            deleted = [obj for obj in live if obj.pk in gone]
            if deleted:
                self.log_deletions(request, deleted)
                self.message_user(
                    request,
                    f"Soft-deleted {len(deleted)} {model_ngettext(self.opts, len(deleted))}: "
                    "they are kept, with their history, and can be undeleted (filter “Deleted”).",
                    messages.SUCCESS,
                )
        return None

    def delete_queryset(self, request, queryset):
        for obj in queryset.filter(deleted__isnull=True):
            soft_delete(obj=obj)

    def hard_delete_soft_deleted(self, request, queryset):
        # Business rows are never hard-deleted from the console; this closes safedelete's
        # action even if something lists it again.
        raise PermissionDenied

    @admin.action(permissions=["delete"], description="Undelete selected %(verbose_name_plural)s")
    def undelete_selected(self, request, queryset):
        queryset = queryset.filter(deleted__isnull=False)
        if not queryset.exists():
            self.message_user(
                request, "None of the selected rows is deleted; nothing to undo.", messages.WARNING
            )
            return None
        if not request.POST.get("post"):
            return self._undelete_confirmation(request, queryset)

        restored, conflicts = 0, []
        for obj in queryset:
            try:
                undelete(obj=obj)
            except UndeleteConflict as exc:
                conflicts.append(exc.message)
                continue
            self.log_change(request, obj, "Undeleted.")
            restored += 1
        if restored:
            self.message_user(
                request,
                f"Undeleted {restored} {model_ngettext(self.opts, restored)}.",
                messages.SUCCESS,
            )
        for message in conflicts:
            self.message_user(request, message, messages.ERROR)
        return None

    def _undelete_confirmation(self, request, queryset):
        opts = self.model._meta
        objects = list(queryset)
        context = {
            **self.admin_site.each_context(request),
            "title": "Are you sure?",
            "objects_name": str(model_ngettext(opts, len(objects))),
            "queryset": objects,
            "opts": opts,
            "app_label": opts.app_label,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            # No cascade: undelete restores exactly the selected rows.
            "related_list": [],
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.undelete_selected_confirmation_template, context)

    # -- history --

    def get_historical_record_context_helper(self, request, historical_record):
        return _MaskedHistoryContextHelper(self.model, historical_record)


class BusinessInlineMixin(PiiAdminMixin):
    """Inline of business rows: live rows only, read-only under a soft-deleted parent."""

    form = BusinessModelForm
    extra = 0

    def has_add_permission(self, request, obj=None):
        return not _is_deleted(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not _is_deleted(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _is_deleted(obj) and super().has_delete_permission(request, obj)


# --- A service's refusal on a change form -----------------------------------------------------

# Where the first, refused attempt to save leaves its error for the form shown again.
_REFUSAL_ATTR = "_console_service_refusal"


class ServiceRefusalMixin:
    """A service that `save_model` or `save_related` calls may refuse the change (a DomainError,
    or a ValidationError from its checks): the form is shown again, as posted, with the refusal
    as its error, instead of a server error.

    Saving a change form is one transaction: the refusal rolls back all of that save (the row,
    its inlines, the history, the log entry). The page is then built again from the posted
    data, with the refusal as the form's error (on the field a ValidationError names, else
    above the form), which also keeps that second pass from saving.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(  # type: ignore[misc]
                request, object_id, form_url, extra_context
            )
        except (DomainError, ValidationError) as exc:
            if request.method != "POST" or hasattr(request, _REFUSAL_ATTR):
                raise
            setattr(request, _REFUSAL_ATTR, exc)
        return super().changeform_view(  # type: ignore[misc]
            request, object_id, form_url, extra_context
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)  # type: ignore[misc]
        refusal = getattr(request, _REFUSAL_ATTR, None)
        if refusal is None:
            return form
        return type(form.__name__, (_RefusedFormMixin, form), {"refusal": refusal})


class _RefusedFormMixin:
    """A form whose save a service refused: it carries the refusal as its error."""

    refusal: Exception
    fields: dict

    def clean(self):
        cleaned = super().clean()  # type: ignore[misc]
        refusal = self.refusal
        if isinstance(refusal, DomainError):
            placed: dict[str | None, list] = {None: [refusal.message]}
        elif hasattr(refusal, "error_dict"):
            placed = {}
            for field, errors in refusal.error_dict.items():
                placed.setdefault(field if field in self.fields else None, []).extend(errors)
        else:
            placed = {None: list(refusal.error_list)}  # type: ignore[attr-defined]
        for field, errors in placed.items():
            self.add_error(field, errors)  # type: ignore[attr-defined]
        return cleaned


# --- The history of the rows that belong to a record -------------------------------------------


@dataclasses.dataclass(frozen=True)
class RelatedHistory:
    """Rows of another audited model whose changes belong to a record's history (a spending
    profile's rules): `parent` is their foreign key to the record, and `noun` names one of them
    in the list, as in "Rule added: BLOCKED 7995 Betting, casino gambling"."""

    model: type[models.Model]
    parent: str
    noun: str


class RelatedHistoryMixin:
    """A record's history page also lists the history of the rows of `related_histories`
    (added, changed, deleted, undeleted), interleaved with its own by time, each with who and
    when like the record's own rows, and its changes against that row's previous version.

    Those rows carry `related_history_label` and `related_history_url` (that version's page) for
    the list template (`object_history_list_template`) to show. A user who may not view the
    related model sees only the record's own history.
    """

    related_histories: tuple[RelatedHistory, ...] = ()

    def get_history_queryset(self, request, history_manager, pk_name, object_id):
        own = super().get_history_queryset(  # type: ignore[misc]
            request, history_manager, pk_name, object_id
        )
        related = [
            (entry, _history_of_children(entry, object_id))
            for entry in self.related_histories
            if _may_view(request, entry.model)
        ]
        if not related:
            return own
        return _MergedHistory(own, related, site_name=self.admin_site.name)  # type: ignore[attr-defined]

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        paginator = getattr(historical_records, "paginator", None)
        if not isinstance(getattr(paginator, "object_list", None), _MergedHistory):
            return super().set_history_delta_changes(  # type: ignore[misc]
                request, historical_records, foreign_keys_are_objs
            )
        # Rows of several records are interleaved: each is compared with the previous version
        # of its own record, not with the row below it.
        for record in historical_records:
            previous = record.history_previous
            if previous is None:
                continue
            delta = record.diff_against(previous, foreign_keys_are_objs=foreign_keys_are_objs)
            if record.instance_type is self.model:  # type: ignore[attr-defined]
                helper = self.get_historical_record_context_helper(  # type: ignore[attr-defined]
                    request, record
                )
            else:
                helper = _MaskedHistoryContextHelper(record.instance_type, record)
            record.history_delta_changes = helper.context_for_delta_changes(delta)
        return None


def _history_of_children(entry: RelatedHistory, parent_id):
    history = get_history_manager_for_model(entry.model)
    return history.filter(**{entry.parent: parent_id}).select_related(
        "history_user", *_tracked_foreign_keys(history.model)
    )


def _may_view(request, model: type[models.Model]) -> bool:
    opts = model._meta
    return any(
        request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")
        for action in ("view", "change")
    )


class _MergedHistory:
    """The history rows of a record and of its related rows as one list, newest first, read a
    page at a time: the object list of the history page's Paginator."""

    ordered = True  # newest first; the Paginator warns about unordered lists

    def __init__(self, own, related, *, site_name: str):
        self.model = own.model  # the history page looks a hard-deleted record up here
        self._own = own
        self._streams = [(None, own), *related]
        self._site_name = site_name

    def latest(self, *fields):
        return self._own.latest(*fields)

    def count(self) -> int:
        return sum(records.count() for _entry, records in self._streams)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, page: slice) -> list:
        # Which rows, from a UNION of (time, history id, stream) of every stream; then the rows
        # themselves, one query per stream (and one for their previous versions).
        keys = list(self._keys()[page])
        wanted: dict[int, list[int]] = {}
        for _date, history_id, stream in keys:
            wanted.setdefault(stream, []).append(history_id)
        fetched = {}
        for stream, history_ids in wanted.items():
            entry, records = self._streams[stream]
            for record in _with_previous(records.filter(history_id__in=history_ids)):
                if entry is not None:
                    self._describe(record, entry)
                fetched[(stream, record.history_id)] = record
        return [fetched[(stream, history_id)] for _date, history_id, stream in keys]

    def _keys(self):
        first, *rest = (
            records.order_by()
            .annotate(history_stream=models.Value(index, output_field=models.IntegerField()))
            .values_list("history_date", "history_id", "history_stream")
            for index, (_entry, records) in enumerate(self._streams)
        )
        return first.union(*rest, all=True).order_by("-history_date", "-history_id")

    def _describe(self, record, entry: RelatedHistory) -> None:
        instance = _instance_with_relations(record)
        what = _what_happened(record, record.history_previous)
        record.related_history_label = f"{entry.noun} {what}: {instance}"
        opts = entry.model._meta
        try:
            record.related_history_url = reverse(
                f"{self._site_name}:{opts.app_label}_{opts.model_name}_simple_history",
                args=(quote(instance.pk), record.history_id),
            )
        except NoReverseMatch:  # the related model has no history pages of its own
            record.related_history_url = ""


def _with_previous(records) -> list:
    """The history rows, each with `history_previous`: its record's version before it, or None."""
    history_model = records.model
    pk = history_model.instance_type._meta.pk.attname
    earlier = (
        history_model._default_manager.filter(**{pk: models.OuterRef(pk)})
        .filter(
            models.Q(history_date__lt=models.OuterRef("history_date"))
            | models.Q(
                history_date=models.OuterRef("history_date"),
                history_id__lt=models.OuterRef("history_id"),
            )
        )
        .order_by("-history_date", "-history_id")
        .values("history_id")[:1]
    )
    rows = list(records.annotate(previous_history_id=models.Subquery(earlier)))
    previous_ids = [row.previous_history_id for row in rows if row.previous_history_id]
    previous = {}
    if previous_ids:
        versions = history_model._default_manager.filter(history_id__in=previous_ids)
        previous = {
            row.history_id: row
            for row in versions.select_related(*_tracked_foreign_keys(history_model))
        }
    for row in rows:
        row.history_previous = previous.get(row.previous_history_id)
    return rows


def _tracked_foreign_keys(history_model) -> list[str]:
    return [f.name for f in history_model.tracked_fields if isinstance(f, models.ForeignKey)]


def _instance_with_relations(record):
    """The row as it was in this version, with the related rows the history row has read."""
    instance = record.instance
    for field in instance._meta.concrete_fields:
        if not field.is_relation:
            continue
        try:
            history_field = record._meta.get_field(field.name)
        except FieldDoesNotExist:
            continue
        if history_field.is_cached(record):
            field.set_cached_value(instance, history_field.get_cached_value(record))
    return instance


def _what_happened(record, previous) -> str:
    """What a history row did to its row, as the history page says it: a soft delete and an
    undelete are saves that set or clear `deleted`."""
    if record.history_type == "+":
        return "added"
    if record.history_type == "-":
        return "removed"
    was_deleted = previous is not None and getattr(previous, "deleted", None) is not None
    is_deleted = getattr(record, "deleted", None) is not None
    if is_deleted and not was_deleted:
        return "deleted"
    if was_deleted and not is_deleted:
        return "undeleted"
    return "changed"


# --- Financial records -------------------------------------------------------------------------


class ReadOnlyAdminMixin:
    """A view-only admin: rows are written by the system, never added, edited or deleted."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class FinancialRecordAdmin(
    RecordPageMixin, ReadOnlyAdminMixin, IndexedSearchMixin, admin.ModelAdmin
):
    """Read-only admin for a `core.models.FinancialRecord` on a huge table.

    Records are written by the money flows and never edited or deleted by hand. The list
    avoids COUNT(*) on the whole table and facet counts.
    """

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


class FinancialRecordInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Read-only inline of financial records."""

    extra = 0
    can_delete = False
    show_change_link = True


# --- The overview (the console's front page) ---------------------------------------------------

_OVERVIEW: list = []


def overview_section(func):
    """Register `func(request) -> PagePanel | None`: a section of the console's front page.

    Each app adds what it knows (authorizations, the webhook inbox, the sync with Lithic,
    lockouts); the admin site, in the lowest app, imports none of them.
    """
    _OVERVIEW.append(func)
    return func


def overview_sections(request) -> list[PagePanel]:
    sections = (func(request) for func in _OVERVIEW)
    return sorted((s for s in sections if s is not None), key=lambda s: s.order)


# --- The console's search box ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SearchHit:
    kind: str  # what it is: "Card", "Transaction", "Merchant"
    label: str
    url: str
    exact: bool = False  # the term names this record and nothing else (a token, an email)


_SEARCH: list = []


def search_provider(func):
    """Register `func(request, term) -> list[SearchHit]` for the search box on every page.

    Each app searches its own records, within the operator's view permissions.
    """
    _SEARCH.append(func)
    return func


def console_search(request, term: str) -> list[SearchHit]:
    term = term.strip()
    if not term:
        return []
    return [hit for func in _SEARCH for hit in func(request, term)]


def as_uuid(term: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(term)
    except ValueError:
        return None


# --- Pages of the console that belong to no one model ------------------------------------------

_VIEWS: list = []


def console_view(route: str, name: str):
    """Register `view(site, request, **kwargs)` at `admin/<route>` (URL name `admin:<name>`),
    behind the console's login and second factor."""

    def register(view):
        _VIEWS.append((route, name, view))
        return view

    return register


def console_views() -> list:
    return list(_VIEWS)
