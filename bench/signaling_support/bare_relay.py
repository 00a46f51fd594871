"""The framework's floor: a bare Channels relay, served by Daphne like the app.

    daphne bench.signaling_support.bare_relay:application   (from the repo root)

Same path and frames as the app (signaling-protocol.md) but no auth, no
origin check, no presence in a database, no validation, no rate limit: on
connect it accepts, registers its channel in a process-local dict, sends a
welcome (with the peers already there) and tells those peers with a minimal
`peer-joined`, so clients know when to start negotiating, exactly as with the
app. A `signal` goes to the peer with one direct `channel_layer.send`, the
same call the app's hot path makes; `ping` is answered with `pong`. The
channel layer is the in-memory one, as in the app without REDIS_URL.
"""

import itertools
import json

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        INSTALLED_APPS=["channels"],
        CHANNEL_LAYERS={"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}},
        USE_TZ=True,
    )
    django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

# room code -> [(participant id, channel name)], in join order
ROOMS: dict[str, list[tuple[int, str]]] = {}
_ids = itertools.count(1)


class BareRelayConsumer(AsyncWebsocketConsumer):
    code = None

    async def connect(self):
        await self.accept()
        self.code = self.scope["url_route"]["kwargs"]["code"]
        self.id = next(_ids)
        members = ROOMS.setdefault(self.code, [])
        peers = list(members)
        members.append((self.id, self.channel_name))
        await self.send(
            text_data=json.dumps(
                {
                    "type": "welcome",
                    "self": {"id": self.id},
                    "peers": [{"id": pid} for pid, _channel in peers],
                }
            )
        )
        joined = json.dumps({"type": "peer-joined", "peer": {"id": self.id}})
        for _pid, channel in peers:
            await self.channel_layer.send(channel, {"type": "relay", "text": joined})

    async def disconnect(self, code):
        members = ROOMS.get(self.code)
        if members is None:
            return
        members[:] = [m for m in members if m[1] != self.channel_name]
        if not members:
            ROOMS.pop(self.code, None)

    async def receive(self, text_data=None, bytes_data=None):
        frame = json.loads(text_data)
        kind = frame.get("type")
        if kind == "signal":
            text = json.dumps({"type": "signal", "from": self.id, "data": frame["data"]})
            for _pid, channel in ROOMS.get(self.code, ()):
                if channel != self.channel_name:
                    await self.channel_layer.send(channel, {"type": "relay", "text": text})
        elif kind == "ping":
            await self.send(text_data=json.dumps({"type": "pong", "id": frame.get("id")}))

    async def relay(self, event):
        await self.send(text_data=event["text"])


application = ProtocolTypeRouter(
    {"websocket": URLRouter([path("ws/rooms/<str:code>/", BareRelayConsumer.as_asgi())])}
)
