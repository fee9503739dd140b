"""Settings for the card-program back office.

Every value comes from the environment (django-environ); `.env.example` lists them all. Local
defaults are safe for `make run`; with DEBUG off, production secrets have no default and a
missing one stops start-up with a clear message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Values already in the environment win over the file, so CI and tests can override .env.
# ENV_FILE= (empty) reads no file at all.
ENV_FILE = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    env.read_env(ENV_FILE, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)


def _required_secret(name: str, dev_fallback: str) -> str:
    value = env.str(name, default="").strip()
    if value:
        return value
    if DEBUG:
        return dev_fallback
    raise ImproperlyConfigured(
        f"{name} is not set. With DEBUG off it must come from the environment "
        f"(see .env.example); refusing to start without it."
    )


SECRET_KEY = _required_secret(
    "SECRET_KEY", "insecure-development-key-only-used-when-debug-is-on-0123456789"
)


def _parse_fernet_keys(raw: str) -> list[str]:
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    for index, key in enumerate(keys):
        try:
            decoded = base64.urlsafe_b64decode(key.encode())
        except (binascii.Error, ValueError) as exc:
            raise ImproperlyConfigured(
                f"FERNET_KEYS entry {index} is not url-safe base64: {exc}"
            ) from exc
        if len(decoded) != 32:
            raise ImproperlyConfigured(
                f"FERNET_KEYS entry {index} must decode to 32 bytes, got {len(decoded)}. "
                'Generate one with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"'
            )
    return keys


# In DEBUG without keys, derive a development key from SECRET_KEY so `manage.py` works out of
# the box; data encrypted with it is development data only.
_DEV_FERNET_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"dev-fernet:" + SECRET_KEY.encode()).digest()
).decode()
FERNET_KEYS = _parse_fernet_keys(_required_secret("FERNET_KEYS", _DEV_FERNET_KEY))

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # django.contrib.admin with the console's own site (accounts.console): MFA, lockout.
    "accounts.apps.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_standardized_errors",
    "simple_history",
    "safedelete",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "csp",
    "core",
    "accounts",
    "spending",
    "cards",
    "transactions",
    "webhooks",
    # Above the domain apps: it extends the cards and spending admin, so it comes after them.
    "lithic_integration",
    "drf_spectacular_sidecar",
    # Demo data, not the product: only the `seed_demo` command (docs/decisions.md, 63).
    "demo",
]

MIDDLEWARE = [
    # Before anything reads the database: where this request's reads go.
    "core.read_your_writes.ReadYourWritesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.SessionTimeouts",
    "core.tenancy.TenancyMiddleware",
    "accounts.middleware.OperatorReadLog",
    "core.audit.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "core.api.cache_control.NoStoreApiMiddleware",
    # Last: it turns a login refused for a lockout into the lockout page (django-axes).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Databases -------------------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Each process keeps a pool of connections to each database (psycopg's pool): at most
# DATABASE_POOL_MAX_SIZE, so the database (or PgBouncer) sees up to processes x max_size
# (docs/operations.md). Off: a connection per request.
DATABASE_POOL = env.bool("DATABASE_POOL", default=True)
DATABASE_POOL_MIN_SIZE = env.int("DATABASE_POOL_MIN_SIZE", default=1)
DATABASE_POOL_MAX_SIZE = env.int("DATABASE_POOL_MAX_SIZE", default=4)
# How long a request waits for a pooled connection before it fails (the responder's processes
# wait no longer than their deadline leaves: lithic_integration.views).
DATABASE_POOL_TIMEOUT_SECONDS = env.float("DATABASE_POOL_TIMEOUT_SECONDS", default=2.0)
# Read replicas (core.replicas): skipped when lagging more than this, measured every
# DATABASE_REPLICA_CHECK_SECONDS; a replica's pool gives up on a connection after
# DATABASE_REPLICA_POOL_TIMEOUT_SECONDS, and the read goes to the primary.
DATABASE_REPLICA_MAX_LAG_SECONDS = env.float("DATABASE_REPLICA_MAX_LAG_SECONDS", default=5.0)
DATABASE_REPLICA_CHECK_SECONDS = env.float("DATABASE_REPLICA_CHECK_SECONDS", default=1.0)
DATABASE_REPLICA_POOL_TIMEOUT_SECONDS = env.float(
    "DATABASE_REPLICA_POOL_TIMEOUT_SECONDS", default=0.5
)
# After a client (an operator's session, an API key) writes, its reads go to the primary for
# this long: longer than any replica still in use can lag, measurements' age included.
READ_YOUR_WRITES_SECONDS = (
    DATABASE_REPLICA_MAX_LAG_SECONDS + 2 * DATABASE_REPLICA_CHECK_SECONDS + 1.0
)
# libpq's connect timeout in whole seconds (libpq treats 1 as 2): a black-holed database host
# fails a connection attempt after this, not after the TCP timeout.
DATABASE_CONNECT_TIMEOUT_SECONDS = env.int("DATABASE_CONNECT_TIMEOUT_SECONDS", default=2)
# The statements batched on the responder's path (core.postgresql.base.run_prepared) are
# prepared once per connection. Off: they are sent unprepared, as a pooler that cannot keep
# named prepared statements in transaction mode (PgBouncer before 1.21) needs.
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)


# Django's PostgreSQL backend, whose cursors put the tenant context (core.tenancy) into every
# transaction; row-level security reads it.
POSTGRESQL_ENGINE = "core.postgresql"


def _tune_database(config: dict, *, replica: bool = False) -> dict:
    if config["ENGINE"] in ("django.db.backends.postgresql", POSTGRESQL_ENGINE):
        config["ENGINE"] = POSTGRESQL_ENGINE
        # A WITH HOLD cursor would run its query outside the transaction that carries the
        # tenant context; PgBouncer in transaction mode cannot keep one either.
        config["DISABLE_SERVER_SIDE_CURSORS"] = True
        config.setdefault("OPTIONS", {})
        config["OPTIONS"].setdefault("connect_timeout", DATABASE_CONNECT_TIMEOUT_SECONDS)
        # Django turns psycopg's prepared statements off. Its own cursors bind client-side and
        # never prepare whatever the threshold; only run_prepared's statements ask for it.
        config["OPTIONS"].setdefault(
            "prepare_threshold", 5 if DATABASE_PREPARED_STATEMENTS else None
        )
        # A connection broken since its last use (a database restart) is found and replaced
        # before a request gets it, not by the request's first statement. With a pool, this is
        # the pool's check at checkout (core.postgresql), so the pool options name no `check`.
        config["CONN_HEALTH_CHECKS"] = True
        if DATABASE_POOL:
            # Django's psycopg pool requires persistent connections to be off.
            config["CONN_MAX_AGE"] = 0
            config["OPTIONS"]["pool"] = {
                "min_size": DATABASE_POOL_MIN_SIZE,
                "max_size": DATABASE_POOL_MAX_SIZE,
                "timeout": (
                    DATABASE_REPLICA_POOL_TIMEOUT_SECONDS
                    if replica
                    else DATABASE_POOL_TIMEOUT_SECONDS
                ),
            }
    return config


_tune_database(DATABASES["default"])
# The owner role: runs `migrate` (core.management.commands.migrate) and owns every table. The
# runtime role of DATABASE_URL serves requests, workers and commands; it owns nothing and gets
# only the privileges core.grants gives it. Unset: one role does both (a development database).
DATABASE_MIGRATE_URL = env.str("DATABASE_MIGRATE_URL", default="")
DATABASE_REPLICA_ALIASES: list[str] = []
for _index, _url in enumerate(env.list("DATABASE_REPLICA_URLS", default=[])):
    _alias = f"replica_{_index}"
    _replica = _tune_database(env.db_url_config(_url), replica=True)
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES[_alias] = _replica
    DATABASE_REPLICA_ALIASES.append(_alias)
DATABASE_ROUTERS = ["config.db_router.PrimaryReplicaRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache -----------------------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
# A Redis operation waits at most this long; a failure stops this process asking Redis for
# REDIS_BREAKER_SECONDS (core.cache).
REDIS_SOCKET_TIMEOUT_SECONDS = env.float("REDIS_SOCKET_TIMEOUT_SECONDS", default=0.25)
REDIS_BREAKER_SECONDS = env.float("REDIS_BREAKER_SECONDS", default=5.0)
# How long the API keeps a list page it made (core.response_cache); 0 turns the cache off. An
# entry is never served once its rows have changed, whatever this says.
API_LIST_CACHE_SECONDS = env.int("API_LIST_CACHE_SECONDS", default=300)
# What the process keeps for itself: the API's request budget while Redis is unavailable.
_LOCAL_CACHE = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "local"}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="cardops"),
            "TIMEOUT": 300,
            "OPTIONS": {
                "CLIENT_CLASS": "core.cache.BreakerClient",
                "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT_SECONDS,
                "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT_SECONDS,
                # Losing Redis slows the product down; it must never break a request.
                "IGNORE_EXCEPTIONS": True,
            },
        },
        "local": _LOCAL_CACHE,
    }
    # core.cache logs when its breaker opens; one line per skipped operation would be noise.
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = False
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "local": _LOCAL_CACHE,
    }

# --- Auth ------------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
# Log in by email, case-insensitively (accounts.models.UserManager.get_by_natural_key).
# django-axes first: a locked-out username or address is refused before any password is hashed.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.TenantAwareModelBackend",
]
PASSWORD_HASHERS = [
    # Argon2id with one lane (accounts.hashers): a hash takes one core, not all of them.
    "accounts.hashers.SingleLaneArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env.int("PASSWORD_MIN_LENGTH", default=12)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

# Operators' logins (docs/security.md). Lockout after LOGIN_FAILURE_LIMIT failures per username
# and, separately, per address, for LOGIN_LOCKOUT_MINUTES (PCI DSS 8.3.4: at most 10, at least
# 30 minutes), kept in the database by django-axes.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # the security log records logins (accounts.security)
AXES_ENABLE_ADMIN = False  # the console's own page lifts lockouts, and logs it
AXES_CLIENT_IP_CALLABLE = "accounts.console.axes_client_ip"
AXES_USERNAME_CALLABLE = "accounts.console.axes_username"
AXES_LOCKOUT_CALLABLE = "accounts.console.lockout_response"
AXES_VERBOSE = False
# Password checks (Argon2: a quarter of a second of CPU each) across all web processes, per
# second; more attempts are refused before hashing (429), so a flood of logins cannot take the
# CPU from the rest of the product. Each process counts alone while Redis is unavailable.
LOGIN_PASSWORD_CHECKS_PER_SECOND = env.int("LOGIN_PASSWORD_CHECKS_PER_SECOND", default=2)
# A second factor (TOTP, or a single-use recovery code) for every console login (PCI DSS
# 8.4.2). Only a development setup (DEBUG on) may turn it off.
ADMIN_MFA_REQUIRED = env.bool("ADMIN_MFA_REQUIRED", default=True)
if not ADMIN_MFA_REQUIRED and not DEBUG:
    raise ImproperlyConfigured(
        "ADMIN_MFA_REQUIRED=false is for development only; with DEBUG off every console "
        "login needs a second factor."
    )
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Card program operations")
MFA_RECOVERY_CODES = 10
# Passkeys (WebAuthn, django-otp-webauthn) as a second factor, after the password: never instead
# of it, so the lockout and the login budget guard every console login (docs/security.md).
# A passkey belongs to one domain (the relying party id) and is accepted only from the listed
# origins; https only, except http://localhost for development.
OTP_WEBAUTHN_RP_ID = env.str("OTP_WEBAUTHN_RP_ID", default="localhost")
OTP_WEBAUTHN_RP_NAME = OTP_TOTP_ISSUER
OTP_WEBAUTHN_ALLOWED_ORIGINS = env.list(
    "OTP_WEBAUTHN_ALLOWED_ORIGINS", default=["http://localhost:8000"]
)
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
OTP_WEBAUTHN_EXCEPTION_LOGGER_NAME = "accounts.passkeys"
# Console sessions end after SESSION_IDLE_MINUTES without a request (PCI DSS 8.2.8: 15) and
# SESSION_ABSOLUTE_HOURS after the login, whatever happens (accounts.middleware).
SESSION_IDLE_SECONDS = env.int("SESSION_IDLE_MINUTES", default=15) * 60
SESSION_ABSOLUTE_SECONDS = env.int("SESSION_ABSOLUTE_HOURS", default=12) * 3600
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_SECONDS
SESSION_COOKIE_SAMESITE = "Lax"
# Password reset emails (the demo prints them on the console).
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
globals().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="operations@localhost")
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_SECONDS", default=3600)
# Email uniqueness is a case-insensitive UNIQUE index on live rows (users_email_ci_uniq), which
# this check cannot see.
SILENCED_SYSTEM_CHECKS = ["auth.E003", "auth.W004"]

# --- Security --------------------------------------------------------------------------------

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz/$", r"^readyz/$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = not DEBUG
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts, styles, images and fonts from this origin
# only; Swagger UI is served from the installed package (drf-spectacular-sidecar). Inline
# style attributes stay allowed: the admin's templates and Swagger UI use them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Number of trusted reverse proxies in front of the app; 0 means REMOTE_ADDR is the client.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Security log (accounts.security) ----------------------------------------------------------

# Identical refusals from one origin (bad signatures, bad API keys) are counted over windows
# of this many seconds: one row for the first, one for the rest (0: a row each).
SECURITY_LOG_AGGREGATE_SECONDS = env.int("SECURITY_LOG_AGGREGATE_SECONDS", default=60)

# --- Lithic ----------------------------------------------------------------------------------

LITHIC_API_KEY = env.str("LITHIC_API_KEY", default="")
LITHIC_ENVIRONMENT = env.str("LITHIC_ENVIRONMENT", default="sandbox")
LITHIC_BASE_URL = env.str("LITHIC_BASE_URL", default="")
LITHIC_WEBHOOK_SECRET = env.str("LITHIC_WEBHOOK_SECRET", default="")
LITHIC_ASA_SECRET = env.str("LITHIC_ASA_SECRET", default="")
# Further secrets accepted beside LITHIC_ASA_SECRET while it is rotated (Lithic keeps the old
# secret valid for 24 hours after a rotation).
LITHIC_ASA_SECRETS = env.list("LITHIC_ASA_SECRETS", default=[])
if LITHIC_ENVIRONMENT not in {"sandbox", "production"}:
    raise ImproperlyConfigured("LITHIC_ENVIRONMENT must be 'sandbox' or 'production'.")
# Outbound calls (lithic_integration.gateway): per-request timeout and the SDK's own retries.
LITHIC_TIMEOUT_SECONDS = env.float("LITHIC_TIMEOUT_SECONDS", default=10.0)
LITHIC_MAX_RETRIES = env.int("LITHIC_MAX_RETRIES", default=2)
# The push a request or the console makes right after its change commits: someone waits for
# it, and sync_lithic retries what it could not finish, so it gets a shorter budget.
LITHIC_ON_COMMIT_TIMEOUT_SECONDS = env.float("LITHIC_ON_COMMIT_TIMEOUT_SECONDS", default=3.0)
LITHIC_ON_COMMIT_MAX_RETRIES = env.int("LITHIC_ON_COMMIT_MAX_RETRIES", default=1)
# `sync_lithic`: a failed push waits base * 2^(attempts-1) seconds (with jitter), at most max;
# a change that was not pushed on commit (crash) is picked up after base seconds.
LITHIC_SYNC_BACKOFF_BASE_SECONDS = env.float("LITHIC_SYNC_BACKOFF_BASE_SECONDS", default=10.0)
LITHIC_SYNC_BACKOFF_MAX_SECONDS = env.float("LITHIC_SYNC_BACKOFF_MAX_SECONDS", default=3600.0)
LITHIC_SYNC_POLL_SECONDS = env.float("LITHIC_SYNC_POLL_SECONDS", default=5.0)

# --- Authorization (ASA) ---------------------------------------------------------------------

# The responder's one deadline, counted from when a request arrived: waiting for a connection,
# for locks and for every statement included. A request it cannot decide within it is declined
# and leaves nothing behind. Keep it well under Lithic's own ASA timeout.
ASA_DEADLINE_MS = env.int("ASA_DEADLINE_MS", default=1000)
# Lithic result when the decision itself failed (database down or too slow, deadline passed).
# Both results are checked against Lithic's result values at start-up.
ASA_FAILURE_RESULT = env.str("ASA_FAILURE_RESULT", default="SUSPECTED_FRAUD")
# Lithic result for a signed request whose body is not a valid authorization object.
ASA_MALFORMED_RESULT = env.str("ASA_MALFORMED_RESULT", default="SUSPECTED_FRAUD")

# --- Webhook inbox (docs/webhooks.md) --------------------------------------------------------

# Further secrets accepted beside LITHIC_WEBHOOK_SECRET while Lithic's secret is rotated.
LITHIC_WEBHOOK_SECRETS = env.list("LITHIC_WEBHOOK_SECRETS", default=[])
# Lithic event type -> dotted path of its handler, `handler(payload: dict) -> int | None`.
# Every other type Lithic sends is stored and marked IGNORED.
_CARD_EVENT_HANDLER = "lithic_integration.cards.handle_card_event"
_DISPUTE_HANDLER = "lithic_integration.disputes.handle_dispute_transaction"
_ENHANCED_DATA_HANDLER = "lithic_integration.reports.handle_enhanced_data"
WEBHOOK_HANDLERS = {
    "card_transaction.updated": "lithic_integration.transactions.handle_card_transaction_updated",
    "card.created": _CARD_EVENT_HANDLER,
    "card.updated": _CARD_EVENT_HANDLER,
    "card.shipped": _CARD_EVENT_HANDLER,
    "card.reissued": _CARD_EVENT_HANDLER,
    "card.renewed": _CARD_EVENT_HANDLER,
    "card.converted": _CARD_EVENT_HANDLER,
    "dispute_transaction.created": _DISPUTE_HANDLER,
    "dispute_transaction.updated": _DISPUTE_HANDLER,
    "dispute.updated": "lithic_integration.disputes.handle_dispute_updated",
    "card_transaction.enhanced_data.created": _ENHANCED_DATA_HANDLER,
    "card_transaction.enhanced_data.updated": _ENHANCED_DATA_HANDLER,
    "balance.updated": "lithic_integration.reports.handle_balance_updated",
    "auth_rules.backtest_report.created": "lithic_integration.auth_rules.handle_backtest_report",
}
# After this many failed runs an event is DEAD and waits for an operator.
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=10)
# Retry n waits min(MAX, BASE * 2**(n-1)) seconds, less up to JITTER of it at random.
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=15.0)
WEBHOOK_RETRY_MAX_SECONDS = env.float("WEBHOOK_RETRY_MAX_SECONDS", default=3600.0)
WEBHOOK_RETRY_JITTER = env.float("WEBHOOK_RETRY_JITTER", default=0.25)
# How long a worker's claim on an event lasts; a dead worker's events come back after it.
# Must exceed the slowest handler run.
WEBHOOK_LEASE_SECONDS = env.float("WEBHOOK_LEASE_SECONDS", default=60.0)
WEBHOOK_BATCH_SIZE = env.int("WEBHOOK_BATCH_SIZE", default=50)
# How long an idle worker waits before looking for due events again.
WEBHOOK_POLL_INTERVAL_SECONDS = env.float("WEBHOOK_POLL_INTERVAL_SECONDS", default=1.0)

# --- Internationalisation, static ------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# The console's overview reads daily rollups of transactions (transactions.rollups): each run
# of `refresh_rollups` rebuilds this many recent days; its figures are cached this long.
ROLLUP_RECENT_DAYS = env.int("ROLLUP_RECENT_DAYS", default=3)
ROLLUP_CACHE_SECONDS = env.int("ROLLUP_CACHE_SECONDS", default=60)
# The console's date and time formats: seconds and the time zone (config/formats).
FORMAT_MODULE_PATH = ["config.formats"]
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

# --- Libraries -------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api.permissions.RolePermission"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api_key": env.str("API_THROTTLE_RATE", default="1200/min"),
        # Each process's own budget per key while Redis is unavailable (accounts.api.throttling).
        "api_key_local": env.str("API_THROTTLE_FALLBACK_RATE", default="300/min"),
    },
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.PageNumberPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_standardized_errors.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "core.api.errors.ApiExceptionHandler",
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
    "ALLOWED_ERROR_STATUS_CODES": ["400", "401", "403", "404", "405", "409", "415", "422", "429"],
    "ERROR_SCHEMAS": {
        str(code): f"core.api.errors.ErrorResponse{code}Serializer" for code in (400, 401, 409, 422)
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Card program API",
    "DESCRIPTION": (
        "Manage your account's users, cards, spending rules and settings, and read card "
        "transactions. Authenticate with `Authorization: Api-Key <key>`. POST requests accept "
        "an `Idempotency-Key` header. Errors share one format with a stable `code`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files from the installed package: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        name: f"drf_standardized_errors.openapi_serializers.{name}.choices"
        for name in (
            "ValidationErrorEnum",
            "ClientErrorEnum",
            "ServerErrorEnum",
            "ErrorCode401Enum",
            "ErrorCode403Enum",
            "ErrorCode404Enum",
            "ErrorCode405Enum",
            "ErrorCode406Enum",
            "ErrorCode415Enum",
            "ErrorCode429Enum",
            "ErrorCode500Enum",
        )
    }
    | {
        "AddressOwnerTypeEnum": "accounts.api.serializers.OWNER_TYPES",
        "SettingTypeEnum": "accounts.api.serializers.SETTING_TYPE_CHOICES",
        "CardTypeEnum": "cards.models.CardType",
        "IssuableCardTypeEnum": "cards.models.ISSUABLE_CARD_TYPE_CHOICES",
        "SpendLimitDurationEnum": "spending.models.SpendLimitDuration",
        "TransactionStatusEnum": "transactions.models.TransactionStatus",
        "TransactionTypeEnum": "transactions.models.TransactionType",
        "TransactionEventTypeEnum": "transactions.models.EventType",
        "TransactionEventSourceEnum": "transactions.models.EventSource",
        "DisputeSourceEnum": "transactions.models.Dispute.Source",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_standardized_errors.openapi_hooks.postprocess_schema_enums",
    ],
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ApiKeyAuth": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Api-Key <key>`",
            }
        }
    },
    "SECURITY": [{"ApiKeyAuth": []}],
}
# Bad API keys from one address: after API_BAD_KEY_LIMIT in a window of this many seconds, its
# requests get 429 (with Retry-After) until the window ends, before any key is looked at.
API_BAD_KEY_LIMIT = env.int("API_BAD_KEY_LIMIT", default=20)
API_BAD_KEY_WINDOW_SECONDS = env.int("API_BAD_KEY_WINDOW_SECONDS", default=60)
# How long an Idempotency-Key's first response is replayed, and after how long an unfinished
# request's claim is considered abandoned (its process died) and may be taken over.
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=48)
IDEMPOTENCY_LOCK_TIMEOUT_SECONDS = env.int("IDEMPOTENCY_LOCK_TIMEOUT_SECONDS", default=60)
SIMPLE_HISTORY_REVERT_DISABLED = True
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
