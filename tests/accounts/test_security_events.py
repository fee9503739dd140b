"""The security event log is append-only in the database itself."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, ProgrammingError, connection, transaction

from accounts.models import SecurityEvent, SecurityEventKind
from accounts.security import security_event_record
from core.roles import owner_connection

pytestmark = pytest.mark.django_db


CHANGES = [
    pytest.param("UPDATE security_events SET detail = 'rewritten' WHERE id = %s", id="update"),
    pytest.param("DELETE FROM security_events WHERE id = %s", id="delete"),
]


@pytest.fixture
def event():
    return security_event_record(kind=SecurityEventKind.WEBHOOK_BAD_SIGNATURE, detail="x")


@pytest.mark.parametrize("sql", CHANGES)
def test_the_runtime_role_may_not_change_or_remove_a_row(event, sql):
    with (
        pytest.raises(ProgrammingError, match="permission denied for table security_events"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [event.pk])
    assert SecurityEvent.objects.get(pk=event.pk).detail == "x"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sql", CHANGES)
def test_even_the_owner_role_is_refused_by_the_trigger(event, sql):
    with (
        owner_connection() as as_owner,
        pytest.raises(IntegrityError, match="security_events is append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        assert as_owner
        cursor.execute(sql, [event.pk])
    assert SecurityEvent.objects.get(pk=event.pk).detail == "x"
