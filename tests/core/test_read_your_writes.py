"""Read-your-writes: a client that may have written reads the primary for a while.

The replicas themselves are in test_replica_processes.py; here, what marks a client and what a
mark does, with replicas configured.
"""

from __future__ import annotations

import time

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from rest_framework.request import Request

from accounts.api.authentication import ApiKeyAuthentication
from accounts.services import api_key_create
from core.db import pinned_to_primary, request_pin
from core.read_your_writes import COOKIE, ReadYourWritesMiddleware


@pytest.fixture
def with_replicas(settings):
    settings.DATABASE_REPLICA_ALIASES = ["replica_0"]
    settings.READ_YOUR_WRITES_SECONDS = 1.0


def _through_middleware(request, *, login: bool = False):
    seen = {}

    def view(request):
        seen["pinned"] = pinned_to_primary()
        response = HttpResponse("ok")
        if login:
            response.set_cookie("sessionid", "new-session")
        return response

    response = ReadYourWritesMiddleware(view)(request)
    return response, seen["pinned"]


def test_a_browser_that_posts_reads_the_primary_until_the_window_ends(with_replicas):
    factory = RequestFactory()
    posted, pinned = _through_middleware(factory.post("/admin/x/"), login=True)
    assert pinned
    mark = posted.cookies[COOKIE]

    following = factory.get("/admin/x/")
    following.COOKIES[COOKIE] = mark.value
    _response, pinned = _through_middleware(following)
    assert pinned

    time.sleep(1.2)
    _response, pinned = _through_middleware(following)
    assert not pinned


def test_a_forged_mark_is_ignored_and_a_post_without_session_marks_nothing(with_replicas):
    factory = RequestFactory()
    forged = factory.get("/admin/x/")
    forged.COOKIES[COOKIE] = "1"
    _response, pinned = _through_middleware(forged)
    assert not pinned

    delivery, pinned = _through_middleware(factory.post("/webhooks/lithic/"))
    assert pinned  # the POST itself reads the primary
    assert COOKIE not in delivery.cookies


def test_without_replicas_nothing_is_marked(settings):
    settings.DATABASE_REPLICA_ALIASES = []
    response, pinned = _through_middleware(RequestFactory().post("/admin/x/"), login=True)
    assert not pinned
    assert COOKIE not in response.cookies


def test_an_api_key_that_wrote_reads_the_primary(with_replicas, customer_admin, fixture_actor):
    api_key, key = api_key_create(user=customer_admin, name="writer")
    factory = RequestFactory()

    def authenticate(method: str):
        django_request = getattr(factory, method)(
            "/api/v1/cards/", HTTP_AUTHORIZATION=f"Api-Key {key}"
        )
        with request_pin():
            ApiKeyAuthentication().authenticate(Request(django_request))
            return django_request, pinned_to_primary()

    request, pinned = authenticate("get")
    assert not pinned  # it never wrote

    request, _pinned = authenticate("post")
    request.read_your_writes_mark()  # what the middleware calls after the response
    api_key.refresh_from_db()
    assert api_key.last_write_at is not None

    _request, pinned = authenticate("get")
    assert pinned
    time.sleep(1.2)
    _request, pinned = authenticate("get")
    assert not pinned
