"""WSGI entry for the HTTP API (the fast path in production; WebSockets need the ASGI entry)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mfa_server.settings")
application = get_wsgi_application()
