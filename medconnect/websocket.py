"""WebSocket gatekeeping that runs before any consumer.

Cross-site WebSocket hijacking: a page on another site could open a socket
to us with the user's cookies. Channels' AllowedHostsOriginValidator compares
the host only, so an http:// page on the same host would pass on an https
site. Here the Origin must be the site's own origin, scheme and host (and
port) together, or one of CSRF_TRUSTED_ORIGINS; anything else is answered
with HTTP 403 before a WebSocket exists.
"""

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


def deny_unknown_path():
    """The last route: any other WebSocket path is refused cleanly (HTTP 403)."""
    return WebsocketDenier.as_asgi()
