"""Start-up refuses to run without production secrets, and the deploy checklist passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FERNET_KEY = "q0b0yJ9i4T7iWvH0m2n0dJ0Hq3Vq2d8b4Z6C6pV1Y9s="
PRODUCTION_LIKE = {
    "DEBUG": "false",
    "SECRET_KEY": "pX7#kq2!vN9$wT4@zR8^mB3&cL6*hF1(jD5)gS0_aE2+uY7-iO4=eW9~rQ3",
    "FERNET_KEYS": FERNET_KEY,
    "ALLOWED_HOSTS": "backoffice.example.com",
    "DATABASE_URL": "sqlite:////tmp/never-opened.sqlite3",
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {
        key: value
        for key, value in os.environ.items()
        if key in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env={**base, "ENV_FILE": "", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FERNET_KEYS"])
def test_startup_refuses_without_secret_when_debug_is_off(missing):
    env = {k: v for k, v in PRODUCTION_LIKE.items() if k != missing}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert f"{missing} is not set" in result.stderr


def test_startup_rejects_a_malformed_fernet_key():
    result = run_manage("check", env={**PRODUCTION_LIKE, "FERNET_KEYS": "not-a-key"})
    assert result.returncode != 0
    assert "FERNET_KEYS entry 0" in result.stderr


def test_deploy_checklist_passes_with_production_like_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_LIKE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_first_password_hasher_is_argon2(customer_admin):
    assert customer_admin.password.startswith("argon2")
