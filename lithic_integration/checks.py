"""Start-up checks of the Lithic configuration: a bad value stops the process with a message."""

from __future__ import annotations


def check_configuration() -> None:
    """Raise ImproperlyConfigured for a Lithic setting that would fail at the first request."""
