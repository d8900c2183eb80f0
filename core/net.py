"""The client's address, by the one rule the login throttle, django-axes and the request log share.

``TRUSTED_PROXY_COUNT`` is how many proxies in front of the app append the address they saw to
``X-Forwarded-For``. With none, the header is the client's own word and is ignored: the address is
the connection's. Behind n proxies, the client is the n-th address from the right (what the
outermost trusted proxy saw); anything further left was written by the client and is not believed.
This is Django REST framework's ``NUM_PROXIES`` rule, so its throttles agree with it.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(remote_addr: str, forwarded_for: str | None, trusted_proxies: int) -> str:
    """Pure: the client's address from the connection's, the header and the number of trusted proxies."""
    if trusted_proxies <= 0 or not forwarded_for:
        return remote_addr
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    candidate = hops[-min(trusted_proxies, len(hops))]
    try:  # a proxy writes an address; anything else came from the client (a proxy was bypassed)
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote_addr


def client_ip(request: HttpRequest) -> str:
    """The requesting client's address (``AXES_CLIENT_IP_CALLABLE`` and the request log use this)."""
    return client_address(
        request.META.get("REMOTE_ADDR", ""),
        request.META.get("HTTP_X_FORWARDED_FOR"),
        int(getattr(settings, "TRUSTED_PROXY_COUNT", 0)),
    )
