"""Settings of the worker processes the tests start: the real ones, with test handlers."""

from config.settings import *  # noqa: F403

WEBHOOK_HANDLERS = {"test.record": "tests.webhooks.handlers.record_run"}
