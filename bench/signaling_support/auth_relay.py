"""The bare relay behind a login: what any logged-in Channels socket pays at least.

    daphne bench.signaling_support.auth_relay:application   (from the repo root,
    with the app's settings and scratch database, as the app runs in the bench)

The bare relay's consumer (bare_relay.py) under Channels' AuthMiddlewareStack
with the app's settings: the session cookie is parsed, the session row and
the user row are read on the database thread, and a socket without a
logged-in user is closed with 4401. Nothing else of the app: no origin
check, no room, consent or presence. Against it, "app / bare+auth" is the
app's own admission (room, consent, presence) with the login counted on both
sides.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medconnect.settings")
django.setup()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from bench.signaling_support.bare_relay import BareRelayConsumer  # noqa: E402


class LoggedInRelayConsumer(BareRelayConsumer):
    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated or not user.is_active:
            await self.accept()
            return await self.close(4401)
        await super().connect()


application = ProtocolTypeRouter(
    {
        "websocket": AuthMiddlewareStack(
            URLRouter([path("ws/rooms/<str:code>/", LoggedInRelayConsumer.as_asgi())])
        )
    }
)
