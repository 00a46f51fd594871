"""ICE servers for WebRTC: public STUN by default, TURN with short-lived credentials.

The TURN credentials follow the TURN REST API scheme that coturn checks with
`use-auth-secret`: the username is "<expiry unix time>:<user id>" and the
password is base64(HMAC-SHA1(secret, username)). Nothing is stored; coturn
recomputes it, and the credential dies at the expiry time.
"""

import base64
import hashlib
import hmac
import time

from django.conf import settings


def turn_credentials(*, user_id: int, secret: str, ttl: int, now: float | None = None) -> dict:
    expiry = int((now if now is not None else time.time()) + ttl)
    username = f"{expiry}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return {"username": username, "credential": base64.b64encode(digest).decode()}


def ice_servers_for(user) -> list[dict]:
    servers = [{"urls": list(settings.STUN_URLS)}] if settings.STUN_URLS else []
    if settings.TURN_URLS and settings.TURN_SECRET:
        servers.append(
            {
                "urls": list(settings.TURN_URLS),
                **turn_credentials(
                    user_id=user.pk, secret=settings.TURN_SECRET, ttl=settings.TURN_TTL_SECONDS
                ),
            }
        )
    return servers
