"""The caller's address, for every rate limit and every audit row: ``client_ip`` believes
``X-Forwarded-For`` only as far as ``TRUSTED_PROXY_COUNT`` proxies of ours wrote it, and turns
anything that is not an address into the nearest trusted one that is, never an exception."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

# One IPv6 host is usually given a whole /64, so limits count the /64 (allauth does the same).
IPV6_LIMIT_PREFIX = 64


def _address(text: str) -> str | None:
    """``text`` as a normalised address, without a port; None when it is not an address."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 6:
        if address.scope_id:
            # The database's inet type has no zone ids, and a zone id is local to a host.
            return None
        if address.ipv4_mapped:
            address = address.ipv4_mapped
    return str(address)


def client_ip(request: HttpRequest | None) -> str | None:
    """The address of whoever sent ``request``, as far as our own proxies vouch for it.

    The peer (``REMOTE_ADDR``) is the nearest proxy, which appended the address it saw to
    ``X-Forwarded-For``; each further trusted proxy did the same, so the client is the hop
    ``TRUSTED_PROXY_COUNT`` places from the right. Hops further left were written by the
    client and are ignored. A hop that is not an address gives way to the next one nearer us.
    """
    if request is None:
        return None
    trusted = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = forwarded.split(",")[-trusted:] if trusted else []
    for hop in [*hops, request.META.get("REMOTE_ADDR", "")]:
        address = _address(hop)
        if address is not None:
            return address
    return None


def rate_limit_key(request: HttpRequest) -> str:
    """What a per-address limit counts against: the client address, an IPv6 one cut to its
    /64, or ``unknown`` for the (misconfigured) case where no hop is an address."""
    address = client_ip(request)
    if address is None:
        return "unknown"
    if ":" in address:
        network = ipaddress.ip_network(f"{address}/{IPV6_LIMIT_PREFIX}", strict=False)
        return str(network.network_address)
    return address
