"""WSGI entry for the HTTP API (the fast path in production; WebSockets need the ASGI entry)."""

import gc
import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from mfa_server.request_slots import limit_working_requests

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mfa_server.settings")
# Many threads (waiting logins hold theirs), few of them working at once.
application = limit_working_requests(get_wsgi_application(), slots=settings.MFA_HTTP_WORKING_REQUESTS)
# Everything loaded so far lives as long as the process: move it out of the collector's view, so the
# collections that requests trigger stop re-scanning the whole framework each time.
gc.freeze()
