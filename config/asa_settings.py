"""Settings of the authorization responder's own processes (`config.asa_wsgi`).

The responder answers Lithic's Auth Stream Access on processes of its own, so that nothing the
admin or the API does (a flood of logins hashing passwords, a hung Redis) delays an answer.
Everything is the web processes' configuration except what the responder must not do:

- it serves `/lithic/asa/` and the probes only (config.asa_urls);
- no sessions, authentication, CSRF or messages middleware: Lithic's signature is the check;
- nothing on its path uses Redis: the cache is local to the process;
- connections come from a pool, always, whose checkout waits no longer than the deadline.
"""

import copy

from config.settings import *  # noqa: F403
from config.settings import ASA_DEADLINE_MS, DATABASE_POOL_MAX_SIZE
from config.settings import DATABASES as WEB_DATABASES

ROOT_URLCONF = "config.asa_urls"
WSGI_APPLICATION = "config.asa_wsgi.application"
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
REDIS_URL = ""

# A copy: the web settings' dictionaries stay as they are in a process that imports both.
DATABASES = copy.deepcopy(WEB_DATABASES)
for _database in DATABASES.values():
    if _database["ENGINE"] == "core.postgresql":
        _database["CONN_MAX_AGE"] = 0
        _database["OPTIONS"]["pool"] = {
            "min_size": 1,
            "max_size": DATABASE_POOL_MAX_SIZE,
            "timeout": ASA_DEADLINE_MS / 1000,
        }
