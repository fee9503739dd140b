"""The security event log is append-only in the database itself."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import SecurityEvent, SecurityEventKind
from accounts.security import security_event_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def event():
    return security_event_record(kind=SecurityEventKind.WEBHOOK_BAD_SIGNATURE, detail="x")


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("UPDATE security_events SET detail = 'rewritten' WHERE id = %s", id="update"),
        pytest.param("DELETE FROM security_events WHERE id = %s", id="delete"),
    ],
)
def test_the_database_refuses_to_change_or_remove_a_row(event, sql):
    with (
        pytest.raises(IntegrityError, match="security_events is append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [event.pk])
    assert SecurityEvent.objects.get(pk=event.pk).detail == "x"
