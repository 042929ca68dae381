"""The only settings module. Every value that differs between deployments comes from the environment."""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

# --- core -------------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)


def _required(name: str, debug_default: str) -> str:
    """A secret that must be set in production; DEBUG (``make run``) gets a development default."""
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return debug_default
    raise ImproperlyConfigured(f"{name} must be set when DJANGO_DEBUG is off")


SECRET_KEY = _required("DJANGO_SECRET_KEY", "dev-only-insecure-secret-key-change-me-0123456789")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
ROOT_URLCONF = "mfa_server.urls"
WSGI_APPLICATION = "mfa_server.wsgi.application"
ASGI_APPLICATION = "mfa_server.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "tenants",
    "audit",
    "devices",
    "approvals",
    "policies",
    "duo",
    "pki",
    "fallbacks",
    "approver",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# Under the WSGI entry (mfa_server/wsgi.py), API calls skip what only browser pages need (sessions, CSRF,
# login, messages, frame options, static files): their views are DRF's, CSRF-exempt, signed or token-authenticated.
MFA_API_PATH_PREFIXES = ["/api/v1/", "/auth/v2/"]
MFA_API_MIDDLEWARE = ["django.middleware.security.SecurityMiddleware", "django.middleware.common.CommonMiddleware"]

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
            ]
        },
    }
]

STATIC_URL = "/static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "var" / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves static files from the app servers (WSGI and ASGI); in DEBUG straight from the finders,
# in production from STATIC_ROOT after `collectstatic`.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- security -------------------------------------------------------------------------------
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("MFA_BEHIND_TLS_PROXY", default=False) else None
)

# Fernet keys (urlsafe base64, 32 bytes), newest first, that encrypt API secrets at rest.
MFA_SECRET_ENCRYPTION_KEYS = env.list(
    "MFA_SECRET_ENCRYPTION_KEYS",
    default=["ZGV2LW9ubHktaW5zZWN1cmUtZW5jcnlwdGlvbi1rZXk="] if DEBUG else [],
)
if not MFA_SECRET_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("MFA_SECRET_ENCRYPTION_KEYS must be set when DJANGO_DEBUG is off")

# --- database -------------------------------------------------------------------------------
VAR_DIR = BASE_DIR / "var"
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # WAL + a busy timeout let the worker thread and request threads share the file. IMMEDIATE: a
    # transaction that reads before it writes (audit sealing) would otherwise fail at once with
    # "database is locked" when it meets another writer, since SQLite cannot wait on a lock upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        }
    )
else:
    # A pool per process: its threads borrow a connection per request (and lend it while waiting for a
    # decision), so PostgreSQL serves a few warm connections per process whatever the thread count (32
    # threads on their own connections: +12 % PostgreSQL CPU per round trip). 0: a connection per thread,
    # kept DATABASE_CONN_MAX_AGE seconds.
    DATABASE_POOL_SIZE = env.int("DATABASE_POOL_SIZE", default=8)
    if DATABASE_POOL_SIZE:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": DATABASE_POOL_SIZE}
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    # Server-side parameters and prepared statements: PostgreSQL parses and plans each statement once per
    # connection, not once per call (its CPU per push round trip: 5.5 -> 3.2 ms, bench/approvals.py). Turn
    # off behind a pooler in transaction mode that cannot keep them (PgBouncer before 1.21, or without
    # max_prepared_statements).
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})

# --- cache and channels ---------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    # Pub/sub: the HTTP workers publish live notices themselves (devices/live.py). The read timeout
    # outlasts the layer's waits on Redis (redis-py 8 defaults to 5 s; channels_redis#422).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "mfa_server.channel_layers.BlockingPublishPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Pushes are sent from the background pool's thread: the stock in-memory layer is not thread-safe.
    CHANNEL_LAYERS = {"default": {"BACKEND": "mfa_server.channel_layers.ThreadSafeInMemoryChannelLayer"}}

# Applications and policies cached in each process, invalidated through Redis on every change
# (mfa_server/config_cache.py); only with REDIS_URL, since other processes must hear of changes.
MFA_CONFIG_CACHE = env.bool("MFA_CONFIG_CACHE", default=True)
# Every process reloads at least this often, even if a change notice was lost.
MFA_CONFIG_CACHE_MAX_AGE_SECONDS = env.int("MFA_CONFIG_CACHE_MAX_AGE_SECONDS", default=60)

# --- DRF --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "EXCEPTION_HANDLER": "mfa_server.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "mfa_server.api.OneRendererNegotiation",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MFA approval platform API",
    "DESCRIPTION": "Relying-service API (signed requests) and device API (device tokens + P-256 proofs).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Self-hosted Swagger UI assets: nothing is loaded from a third party.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"CodeFactorEnum": "fallbacks.api.serializers.CODE_FACTORS"},
    # Failures are problem details on every operation (mfa_server/openapi.py); keep the default enum hook.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "mfa_server.openapi.document_problems",
    ],
}

# --- approvals --------------------------------------------------------------------------------
# Public base URL used in activation links and QR codes.
MFA_PUBLIC_URL = env.str("MFA_PUBLIC_URL", default="http://localhost:8000")
MFA_API_HOSTNAME = env.str("MFA_API_HOSTNAME", default="localhost")
MFA_SIGNATURE_SKEW_SECONDS = env.int("MFA_SIGNATURE_SKEW_SECONDS", default=300)
MFA_PROOF_SKEW_SECONDS = env.int("MFA_PROOF_SKEW_SECONDS", default=120)
MFA_APPROVAL_TIMEOUT_SECONDS = env.int("MFA_APPROVAL_TIMEOUT_SECONDS", default=60)
MFA_SYNC_AUTH_MAX_WAIT_SECONDS = env.int("MFA_SYNC_AUTH_MAX_WAIT_SECONDS", default=60)
MFA_STATUS_MAX_WAIT_SECONDS = env.int("MFA_STATUS_MAX_WAIT_SECONDS", default=30)
# A waiting call wakes on the transaction's end notice; it re-reads its row this often in case a notice
# was lost (approvals/waiting.py).
MFA_WAIT_RECHECK_SECONDS = env.float("MFA_WAIT_RECHECK_SECONDS", default=1.0)
# Requests of one WSGI process that may work at once; its other threads wait for a slot, and a request
# waiting for a decision lends its slot (mfa_server/request_slots.py). One: the process's threads never
# contend for the GIL; deploy/Procfile runs one worker per core instead.
MFA_HTTP_WORKING_REQUESTS = env.int("MFA_HTTP_WORKING_REQUESTS", default=1)
# Calls of one application that may wait at once in one server process (approvals/wait_permits.py): by
# default half the room deploy/Procfile's threads per worker (MFA_HTTP_THREADS) leave for waiting calls,
# so one relying service cannot take every thread.
MFA_WAITING_CALLS_PER_APPLICATION = env.int(
    "MFA_WAITING_CALLS_PER_APPLICATION",
    default=max((env.int("MFA_HTTP_THREADS", default=32) - MFA_HTTP_WORKING_REQUESTS) // 2, 1),
)
MFA_NUMBER_MATCH_DIGITS = env.int("MFA_NUMBER_MATCH_DIGITS", default=3)
# Wrong-number denials and fraud reports in a row that lock a subscriber.
MFA_LOCKOUT_THRESHOLD = env.int("MFA_LOCKOUT_THRESHOLD", default=10)
MFA_ACTIVATION_TTL_SECONDS = env.int("MFA_ACTIVATION_TTL_SECONDS", default=7 * 24 * 3600)
MFA_ACTIVATION_FAILURES_PER_MINUTE = env.int("MFA_ACTIVATION_FAILURES_PER_MINUTE", default=10)
MFA_WEBHOOK_MAX_ATTEMPTS = env.int("MFA_WEBHOOK_MAX_ATTEMPTS", default=8)
MFA_WEBHOOK_TIMEOUT_SECONDS = env.float("MFA_WEBHOOK_TIMEOUT_SECONDS", default=5.0)
MFA_WORKER_INTERVAL_SECONDS = env.float("MFA_WORKER_INTERVAL_SECONDS", default=1.0)

# --- WebAuthn (approver web app) ------------------------------------------------------------
# RP ID and origins default to MFA_PUBLIC_URL's host and origin; the RP ID must be a registrable
# suffix of every origin. Attestation: "none" (default) or "direct"/"indirect"/"enterprise" (stored).
MFA_WEBAUTHN_RP_ID = env.str(
    "MFA_WEBAUTHN_RP_ID", default=MFA_PUBLIC_URL.split("://", 1)[-1].split("/")[0].split(":")[0]
)
MFA_WEBAUTHN_RP_NAME = env.str("MFA_WEBAUTHN_RP_NAME", default="MFA Approver")
MFA_WEBAUTHN_ORIGINS = env.list("MFA_WEBAUTHN_ORIGINS", default=["/".join(MFA_PUBLIC_URL.split("/")[:3])])
MFA_WEBAUTHN_ATTESTATION = env.str("MFA_WEBAUTHN_ATTESTATION", default="none")
MFA_WEBAUTHN_CHALLENGE_TTL_SECONDS = env.int("MFA_WEBAUTHN_CHALLENGE_TTL_SECONDS", default=120)
# The approver's device session cookie (HttpOnly, SameSite=Strict, Secure unless DEBUG).
MFA_APPROVER_COOKIE_NAME = env.str("MFA_APPROVER_COOKIE_NAME", default="mfa_approver")
MFA_APPROVER_COOKIE_MAX_AGE = env.int("MFA_APPROVER_COOKIE_MAX_AGE", default=365 * 24 * 3600)
# How long the approver page waits for an answer to each of its API calls before saying so.
MFA_APPROVER_API_TIMEOUT_SECONDS = env.float("MFA_APPROVER_API_TIMEOUT_SECONDS", default=20.0)
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))
MEDIA_URL = "/media/"  # never served as is: tenant logos go through the approver's own view

# --- delivery -------------------------------------------------------------------------------
MFA_PUSH_BACKENDS = env.list(
    "MFA_PUSH_BACKENDS",
    default=["devices.delivery.console.ConsolePushBackend", "devices.delivery.webpush.WebPushBackend"],
)
# Web Push (VAPID): the private key as PEM or base64url raw scalar; no key turns Web Push off.
MFA_WEBPUSH_VAPID_PRIVATE_KEY = env.str("MFA_WEBPUSH_VAPID_PRIVATE_KEY", default="")
MFA_WEBPUSH_SUBJECT = env.str("MFA_WEBPUSH_SUBJECT", default="mailto:ops@example.invalid")
MFA_WEBPUSH_TTL_SECONDS = env.int("MFA_WEBPUSH_TTL_SECONDS", default=60)
# Push services a browser subscription may point at (host or parent domain). The server POSTs to the
# endpoint, so anything else (an internal address) is refused when the subscription is stored.
MFA_WEBPUSH_ENDPOINT_HOSTS = env.list(
    "MFA_WEBPUSH_ENDPOINT_HOSTS",
    default=["fcm.googleapis.com", "push.services.mozilla.com", "push.apple.com", "notify.windows.com"],
)
# FCM: service-account JSON file path (GOOGLE_APPLICATION_CREDENTIALS) or base64 JSON.
MFA_FCM_CREDENTIALS_JSON = env.str("MFA_FCM_CREDENTIALS_JSON", default="")
MFA_FCM_PROJECT_ID = env.str("MFA_FCM_PROJECT_ID", default="")
# Seconds one FCM HTTP call may take (firebase-admin waits 120 s by default; a push is useless by then).
MFA_FCM_TIMEOUT_SECONDS = env.float("MFA_FCM_TIMEOUT_SECONDS", default=10.0)

# --- pki -------------------------------------------------------------------------------------
# Fernet keys (urlsafe base64, 32 bytes), newest first, that encrypt CA private keys at rest.
MFA_CA_KEY_ENCRYPTION_KEYS = env.list(
    "MFA_CA_KEY_ENCRYPTION_KEYS",
    default=["ZGV2LW9ubHktaW5zZWN1cmUtY2Eta2V5LWVuY3J5cHQ="] if DEBUG else [],
)
if not MFA_CA_KEY_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("MFA_CA_KEY_ENCRYPTION_KEYS must be set when DJANGO_DEBUG is off")
# Base URL written into certificates' CRL distribution points (must stay stable for their lifetime).
MFA_PKI_PUBLIC_URL = env.str("MFA_PKI_PUBLIC_URL", default=MFA_PUBLIC_URL)
MFA_PKI_ROOT_VALIDITY_DAYS = env.int("MFA_PKI_ROOT_VALIDITY_DAYS", default=3650)
MFA_PKI_ISSUING_VALIDITY_DAYS = env.int("MFA_PKI_ISSUING_VALIDITY_DAYS", default=1825)
MFA_PKI_CERT_VALIDITY_DAYS = env.int("MFA_PKI_CERT_VALIDITY_DAYS", default=365)
MFA_PKI_CRL_VALIDITY_HOURS = env.int("MFA_PKI_CRL_VALIDITY_HOURS", default=7 * 24)
# The worker re-signs a CRL once less than this is left before its nextUpdate.
MFA_PKI_CRL_REFRESH_HOURS = env.int("MFA_PKI_CRL_REFRESH_HOURS", default=48)
MFA_PKI_P12_MIN_PASSWORD_LENGTH = env.int("MFA_PKI_P12_MIN_PASSWORD_LENGTH", default=8)

# --- policies / proxies -----------------------------------------------------------------------
# CIDRs of the reverse proxies (nginx) whose X-Forwarded-For and client-certificate headers are
# believed. Empty: no proxy is trusted, the peer address is the client and no certificate is seen.
MFA_TRUSTED_PROXIES = env.list("MFA_TRUSTED_PROXIES", default=[])
# request.META names of the headers the proxy sets (see deploy/nginx-mtls.conf).
MFA_FORWARDED_FOR_HEADER = env.str("MFA_FORWARDED_FOR_HEADER", default="HTTP_X_FORWARDED_FOR")
MFA_CLIENT_CERT_HEADER = env.str("MFA_CLIENT_CERT_HEADER", default="HTTP_X_SSL_CLIENT_CERT")
MFA_CLIENT_VERIFY_HEADER = env.str("MFA_CLIENT_VERIFY_HEADER", default="HTTP_X_SSL_CLIENT_VERIFY")
# Defaults of the push-fatigue rules when a policy leaves them empty (0 turns a rule off).
MFA_POLICY_PUSH_LIMIT = env.int("MFA_POLICY_PUSH_LIMIT", default=5)
MFA_POLICY_PUSH_WINDOW_SECONDS = env.int("MFA_POLICY_PUSH_WINDOW_SECONDS", default=300)
MFA_POLICY_COOLDOWN_SECONDS = env.int("MFA_POLICY_COOLDOWN_SECONDS", default=30)
MFA_POLICY_FRAUD_LOCKOUT_COUNT = env.int("MFA_POLICY_FRAUD_LOCKOUT_COUNT", default=3)
MFA_POLICY_NEW_DEVICE_MINUTES = env.int("MFA_POLICY_NEW_DEVICE_MINUTES", default=0)

# --- fallbacks ---------------------------------------------------------------------------
# Codes: wrong tries per code before the transaction is denied; consecutive failures before a
# subscriber is locked reuse MFA_LOCKOUT_THRESHOLD. Back-off doubles per failure after the free ones.
MFA_CODE_MAX_ATTEMPTS = env.int("MFA_CODE_MAX_ATTEMPTS", default=5)
MFA_CODE_BACKOFF_FREE_FAILURES = env.int("MFA_CODE_BACKOFF_FREE_FAILURES", default=3)
MFA_CODE_BACKOFF_BASE_SECONDS = env.float("MFA_CODE_BACKOFF_BASE_SECONDS", default=1.0)
MFA_CODE_BACKOFF_MAX_SECONDS = env.int("MFA_CODE_BACKOFF_MAX_SECONDS", default=900)
MFA_CODE_FAILURES_PER_MINUTE_PER_APP = env.int("MFA_CODE_FAILURES_PER_MINUTE_PER_APP", default=300)
MFA_SESSION_CODE_TTL_SECONDS = env.int("MFA_SESSION_CODE_TTL_SECONDS", default=120)
MFA_SESSION_CODE_DIGITS = env.int("MFA_SESSION_CODE_DIGITS", default=6)
MFA_TOTP_TOLERANCE_STEPS = env.int("MFA_TOTP_TOLERANCE_STEPS", default=1)
MFA_BYPASS_CODE_TTL_SECONDS = env.int("MFA_BYPASS_CODE_TTL_SECONDS", default=7 * 24 * 3600)
MFA_BYPASS_CODES_PER_ISSUE = env.int("MFA_BYPASS_CODES_PER_ISSUE", default=5)
MFA_BYPASS_CODE_USES = env.int("MFA_BYPASS_CODE_USES", default=1)
# SMS: backend like EMAIL_BACKEND (console prints; "file" option appends to a file instead).
MFA_SMS = {
    "BACKEND": env.str("MFA_SMS_BACKEND", default="fallbacks.sms.console.ConsoleSmsBackend"),
    "OPTIONS": env.json("MFA_SMS_OPTIONS", default={}),
}
MFA_SMS_CODE_DIGITS = env.int("MFA_SMS_CODE_DIGITS", default=6)
MFA_SMS_CODE_TTL_SECONDS = env.int("MFA_SMS_CODE_TTL_SECONDS", default=300)
MFA_SMS_COOLDOWN_SECONDS = env.int("MFA_SMS_COOLDOWN_SECONDS", default=30)
MFA_SMS_SUBSCRIBER_HOURLY_CAP = env.int("MFA_SMS_SUBSCRIBER_HOURLY_CAP", default=5)
MFA_SMS_DESTINATION_HOURLY_CAP = env.int("MFA_SMS_DESTINATION_HOURLY_CAP", default=5)
MFA_SMS_TENANT_HOURLY_CAP = env.int("MFA_SMS_TENANT_HOURLY_CAP", default=500)
# ISO 3166 regions SMS may go to (toll-fraud guard); premium-rate numbers are always refused.
MFA_SMS_ALLOWED_COUNTRIES = env.list("MFA_SMS_ALLOWED_COUNTRIES", default=["US", "CA", "GB", "DE", "FR", "NL"])
MFA_SMS_MESSAGE = env.str("MFA_SMS_MESSAGE", default="Your login code is {code}. It expires in {minutes} min.")

# --- logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("MFA_LOG_LEVEL", default="INFO")},
    "loggers": {"django.server": {"level": "WARNING"}},
}
