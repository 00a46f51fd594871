from django.conf import settings


def axes_username(request, credentials):
    """The username django-axes locks on: the e-mail, as the login matches it."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    return username.strip().lower()


def client_ip(request) -> str:
    """The client's address for login throttling.

    Behind PROXY_COUNT trusted proxies, each appends the address it saw to
    X-Forwarded-For, so the client is the PROXY_COUNT-th entry from the right;
    anything further left was written by the client and cannot be trusted.
    Without proxies the header is ignored and the socket address is used.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.PROXY_COUNT
    if count <= 0:
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    return hops[-count] if len(hops) >= count else remote
