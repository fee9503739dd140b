#!/usr/bin/env python3
"""Create a local-development .env with fresh secrets, unless one already exists.

Standard library only: it runs before the project's dependencies are usable.
"""

import base64
import os
import secrets
import sys
from pathlib import Path

ENV_PATH = Path(__file__).resolve().parent.parent / ".env"


def render() -> str:
    fernet_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    return "\n".join(
        [
            "# Local development settings. Not for production; never commit this file.",
            "DEBUG=true",
            f"SECRET_KEY={secrets.token_urlsafe(50)}",
            f"FERNET_KEYS={fernet_key}",
            "ALLOWED_HOSTS=127.0.0.1,localhost",
            "DATABASE_URL=sqlite:///db.sqlite3",
            "DEMO_ADMIN_EMAIL=admin@example.com",
            f"DEMO_ADMIN_PASSWORD={secrets.token_urlsafe(12)}",
            "# The demo logs in with a password alone; production refuses this (DEBUG off).",
            "ADMIN_MFA_REQUIRED=false",
            "# Password reset emails are printed by the server.",
            "EMAIL_URL=consolemail://",
            "",
            "# Optional:",
            "# REDIS_URL=redis://127.0.0.1:6379/0",
            "# DATABASE_REPLICA_URLS=",
            "# LITHIC_API_KEY=",
            "# LITHIC_ENVIRONMENT=sandbox",
            "# LITHIC_BASE_URL=",
            "# LITHIC_WEBHOOK_SECRET=",
            "# LITHIC_ASA_SECRET=",
            "",
        ]
    )


def main() -> int:
    if ENV_PATH.exists():
        print("keeping existing .env")
        return 0
    # O_EXCL: never clobber a file created concurrently; 0o600: secrets are never world-readable.
    fd = os.open(ENV_PATH, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(render())
    os.chmod(ENV_PATH, 0o600)
    print("wrote .env with freshly generated keys")
    return 0


if __name__ == "__main__":
    sys.exit(main())
