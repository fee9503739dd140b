"""Start-up checks of the Lithic configuration: a bad value stops the process with a message.

Run from the app's `ready()`, so every process (web, responder, workers, commands) refuses to
start with a setting that would otherwise fail at the first request Lithic sends, or answer it
with a result Lithic does not know.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from lithic_integration.asa import ASA_RESULTS
from lithic_integration.signatures import secret_problem

# A failure must decline: approving or challenging what could not be decided is failing open.
NOT_A_DECLINE = frozenset({"APPROVED", "CHALLENGE"})


def configuration_problems() -> list[str]:
    """Every Lithic setting that cannot work, each with what to do about it."""
    problems = []
    for name in ("ASA_FAILURE_RESULT", "ASA_MALFORMED_RESULT"):
        value = getattr(settings, name)
        if value not in ASA_RESULTS:
            problems.append(
                f"{name}={value!r} is not one of Lithic's ASA results ({', '.join(ASA_RESULTS)})"
            )
        elif value in NOT_A_DECLINE:
            problems.append(f"{name}={value!r} would not decline; use e.g. SUSPECTED_FRAUD")
    secrets = {
        "LITHIC_ASA_SECRET": [settings.LITHIC_ASA_SECRET],
        "LITHIC_ASA_SECRETS": list(settings.LITHIC_ASA_SECRETS),
        "LITHIC_WEBHOOK_SECRET": [settings.LITHIC_WEBHOOK_SECRET],
        "LITHIC_WEBHOOK_SECRETS": list(settings.LITHIC_WEBHOOK_SECRETS),
    }
    for name, values in secrets.items():
        for value in values:
            # Unset is allowed (that endpoint then refuses every request); set but unusable
            # is a mistake to stop for.
            if value and value.strip():
                problem = secret_problem(value)
                if problem:
                    problems.append(f"{name} cannot be used: {problem} (Lithic gives `whsec_...`)")
    if settings.ASA_DEADLINE_MS < 1:
        problems.append("ASA_DEADLINE_MS must be at least 1 (milliseconds)")
    return problems


def check_configuration() -> None:
    """Raise ImproperlyConfigured naming every unusable Lithic setting."""
    problems = configuration_problems()
    if problems:
        raise ImproperlyConfigured("Lithic settings that cannot work:\n- " + "\n- ".join(problems))
