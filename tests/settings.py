"""Test settings: the production module with test-only secrets and in-process fakes.

``DATABASE_URL`` / ``REDIS_URL`` from the environment are honoured, so the same suite runs on
SQLite + in-memory layers and on PostgreSQL + Redis.
"""

import atexit
import os
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("MFA_SECRET_ENCRYPTION_KEYS", "dGVzdC1vbmx5LWVuY3J5cHRpb24ta2V5LTAxMjM0NTY=")
os.environ.setdefault("MFA_CA_KEY_ENCRYPTION_KEYS", "dGVzdC1vbmx5LWNhLWtleS1lbmNyeXB0aW9uLWtleTA=")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")

from mfa_server.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# No collectstatic in tests: an empty STATIC_ROOT that exists keeps WhiteNoise from warning about a
# missing one on every handler the test client builds (about 660 warnings per run). One shared empty
# folder: the servers some tests start with these settings are stopped by signal, without atexit.
STATIC_ROOT = os.path.join(tempfile.gettempdir(), "mfa-test-static-root")
os.makedirs(STATIC_ROOT, exist_ok=True)
MFA_PUSH_BACKENDS = ["devices.delivery.locmem.LocmemPushBackend"]
MFA_WORKER_INTERVAL_SECONDS = 0.2
MFA_WEBPUSH_ENDPOINT_HOSTS = [*MFA_WEBPUSH_ENDPOINT_HOSTS, "push.example.net"]  # noqa: F405

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A throwaway file in WAL mode, like `make run`, not the shared-cache in-memory database: there a
    # background thread's write (push, webhook, audit) that meets another connection's write fails at
    # once with "database table is locked" (no busy timeout), which made push/webhook tests flaky.
    _test_db = os.path.join(tempfile.gettempdir(), f"mfa-test-{os.getpid()}.sqlite3")
    DATABASES["default"]["TEST"] = {"NAME": _test_db}  # noqa: F405
    # Django deletes the database file at the end but not SQLite's WAL side files.
    _side_files = (f"{_test_db}-wal", f"{_test_db}-shm")
    atexit.register(lambda: [os.remove(side) for side in _side_files if os.path.exists(side)])
