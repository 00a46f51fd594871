"""ASGI entry point: Django for HTTP, Channels for WebSockets, one Daphne process."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medconnect.settings")
# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import SessionMiddlewareStack  # noqa: E402
from django.urls import re_path  # noqa: E402

from rooms.routing import websocket_urlpatterns  # noqa: E402

from .daphne_options import close_oversized_frames_with_1009  # noqa: E402
from .websocket import HandshakeLimiter, SameOriginValidator, deny_unknown_path  # noqa: E402

close_oversized_frames_with_1009()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": HandshakeLimiter(
            SameOriginValidator(
                # Sessions only: the signaling consumer reads the user in its own
                # database trip; rooms/routing.py adds AuthMiddleware where needed.
                SessionMiddlewareStack(
                    URLRouter([*websocket_urlpatterns, re_path(r"", deny_unknown_path())])
                )
            )
        ),
    }
)

# What is loaded by now (Django, the apps, URL and template configuration) lives
# as long as the process. Frozen, the collector no longer walks it on every full
# pass: those passes come while sockets are being admitted (each leaves objects
# that live as long as its call) and stop every relayed frame until they end.
gc.collect()
gc.freeze()
