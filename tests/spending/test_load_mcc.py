"""`manage.py load_mcc` loads every ISO 18245 code, idempotently, with high-risk flags."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from core.audit import system_actor
from core.soft_delete import soft_delete
from spending.models import SpendingCategory


def load() -> str:
    out = StringIO()
    call_command("load_mcc", stdout=out)
    return out.getvalue()


def test_loads_all_932_codes_with_their_range_as_group(db):
    assert "932 created" in load()
    assert SpendingCategory.objects.count() == 932
    grocery = SpendingCategory.objects.get(mcc="5411")
    assert grocery.description == "Groceries and supermarkets"
    assert grocery.range_start <= "5411" <= grocery.range_end
    assert grocery.group


@pytest.mark.parametrize(
    ("mcc", "reason"),
    [
        ("7995", "gambling"),
        ("6011", "quasi_cash"),
        ("6051", "crypto"),
        ("4829", "wire_transfer"),
        ("5967", "adult"),
        ("7273", "dating"),
    ],
)
def test_flags_high_risk_categories(db, mcc, reason):
    load()
    category = SpendingCategory.objects.get(mcc=mcc)
    assert category.is_high_risk
    assert category.risk_reason == reason


def test_ordinary_categories_are_not_high_risk(db):
    load()
    assert not SpendingCategory.objects.get(mcc="5411").is_high_risk


def test_second_run_changes_nothing(db):
    load()
    history_rows = SpendingCategory.history.count()
    assert "0 created, 0 updated, 932 unchanged" in load()
    assert SpendingCategory.history.count() == history_rows


def test_run_repairs_edited_rows_and_keeps_soft_deleted_ones_deleted(db):
    load()
    edited = SpendingCategory.objects.get(mcc="5411")
    with system_actor("test"):
        edited.description = "tampered"
        edited.save(update_fields=["description"])
        soft_delete(obj=SpendingCategory.objects.get(mcc="5812"))
    assert "0 created, 1 updated" in load()
    assert SpendingCategory.objects.get(mcc="5411").description != "tampered"
    assert SpendingCategory.all_objects.get(mcc="5812").deleted is not None
    assert SpendingCategory.all_objects.count() == 932
