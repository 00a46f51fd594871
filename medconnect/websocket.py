"""WebSocket gatekeeping that runs before any consumer.

Handshakes per client address are limited (WS_HANDSHAKES_PER_MINUTE, in each
server process): past the limit a socket is accepted and closed at once with
4430, which the browser can read and treats as "retry later", before the
session or the database is touched.

Cross-site WebSocket hijacking: a page on another site could open a socket
to us with the user's cookies. Channels' AllowedHostsOriginValidator compares
the host only, so an http:// page on the same host would pass on an https
site. Here the Origin must be the site's own origin, scheme and host (and
port) together, or one of CSRF_TRUSTED_ORIGINS; anything else is answered
with HTTP 403 before a WebSocket exists.
"""

import time
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import validate_host


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return ""


def origin_allowed(origin: str, host: str) -> bool:
    if not origin or origin == "null":
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parts = urlsplit(origin)
    scheme = "https" if settings.HTTPS else "http"
    if parts.scheme != scheme or not parts.netloc or parts.netloc != host:
        return False
    hostname = parts.hostname or ""
    return validate_host(hostname, settings.ALLOWED_HOSTS)


class SameOriginValidator:
    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            host = _header(scope, b"x-forwarded-host") if settings.BEHIND_PROXY else ""
            host = host or _header(scope, b"host")
            if not origin_allowed(_header(scope, b"origin"), host):
                return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


CLOSE_TOO_MANY_HANDSHAKES = 4430


def client_address(scope) -> str:
    """The client's address, read like accounts.backends.client_ip reads it for HTTP."""
    remote = (scope.get("client") or ("",))[0] or ""
    count = settings.PROXY_COUNT
    if count <= 0:
        return remote
    hops = [h.strip() for h in _header(scope, b"x-forwarded-for").split(",") if h.strip()]
    return hops[-count] if len(hops) >= count else remote


class HandshakeLimiter:
    """A token bucket per client address: a minute's worth of handshakes at
    once, refilled evenly. Generous on purpose: a clinic behind one NAT opens
    two sockets per call, and all of them again when a server restarts.
    """

    def __init__(self, application, clock=time.monotonic):
        self.application = application
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}

    def allow(self, address: str) -> bool:
        capacity = float(settings.WS_HANDSHAKES_PER_MINUTE)
        now = self.clock()
        tokens, last = self.buckets.get(address, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * capacity / 60)
        if len(self.buckets) > 10_000:
            # Forget full buckets (quiet addresses) so the table stays small.
            self.buckets = {a: b for a, b in self.buckets.items() if b[0] < capacity}
        if tokens < 1:
            self.buckets[address] = (tokens, now)
            return False
        self.buckets[address] = (tokens - 1, now)
        return True

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            address = client_address(scope)
            # No address: an in-process caller (a test), not the network.
            if address and not self.allow(address):
                message = await receive()
                if message["type"] == "websocket.connect":
                    await send({"type": "websocket.accept"})
                    await send({"type": "websocket.close", "code": CLOSE_TOO_MANY_HANDSHAKES})
                return
        return await self.application(scope, receive, send)


def deny_unknown_path():
    """The last route: any other WebSocket path is refused cleanly (HTTP 403)."""
    return WebsocketDenier.as_asgi()
