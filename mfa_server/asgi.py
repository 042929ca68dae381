"""ASGI entry: HTTP through Django, WebSockets for devices through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mfa_server.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (needs Django set up first)

from devices.routing import websocket_urlpatterns  # noqa: E402

# Devices are not browsers: they authenticate with their token, so no Origin check applies here.
application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": URLRouter(websocket_urlpatterns)})
