"""WSGI entry for the HTTP API (the fast path in production; WebSockets need the ASGI entry)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mfa_server.settings")
application = get_wsgi_application()
# Everything loaded so far lives as long as the process: move it out of the collector's view, so the
# collections that requests trigger stop re-scanning the whole framework each time.
gc.freeze()
