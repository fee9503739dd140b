"""Shared set-up for the Lithic sync tests: a product, a profile and a way to issue cards."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cards.services import card_issue, card_product_create
from core.audit import system_actor
from spending.services import mcc_catalogue_load, spending_profile_create


@pytest.fixture
def catalogue(db):
    with system_actor("test:fixtures"):
        mcc_catalogue_load()


@pytest.fixture
def travel_profile(acme, catalogue, django_capture_on_commit_callbacks):
    """A block-list profile, pushed to Lithic when outbound sync is on (request `lithic_fake`
    first)."""
    with system_actor("test:fixtures"), django_capture_on_commit_callbacks(execute=True):
        profile = spending_profile_create(
            account=acme, name="Travel", blocked_mccs=["7995", "5813", "6051"]
        )
    profile.refresh_from_db()
    return profile


@pytest.fixture
def product(acme):
    with system_actor("test:fixtures"):
        return card_product_create(
            account=acme,
            name="Virtual",
            default_spend_limit=Decimal("750.00"),
            default_spend_limit_duration="MONTHLY",
        )


@pytest.fixture
def issue(acme, product, django_capture_on_commit_callbacks):
    """`issue(**kwargs)`: issue a card through the service and run its on-commit push."""

    def make(**kwargs):
        with system_actor("test:issue"), django_capture_on_commit_callbacks(execute=True):
            card = card_issue(account=acme, product=product, **kwargs)
        card.refresh_from_db()
        return card

    return make


@pytest.fixture
def call_command_output():
    """`call_command_output(name, *args)`: run a management command, return its stdout."""
    import io

    from django.core.management import call_command

    def run(name, *args):
        out = io.StringIO()
        call_command(name, *args, stdout=out, stderr=out)
        return out.getvalue()

    return run


@pytest.fixture
def act(django_capture_on_commit_callbacks):
    """`act(fn, **kwargs)`: run a service as a test actor, then its on-commit pushes."""

    def run(fn, **kwargs):
        with system_actor("test"), django_capture_on_commit_callbacks(execute=True):
            result = fn(**kwargs)
        if hasattr(result, "refresh_from_db"):
            result.refresh_from_db()
        return result

    return run
