"""The client's scheme and address behind the HTTPS proxies of ``deploy/``.

TLS ends at a proxy (nginx, the Kubernetes ingress); the gateway sees plain HTTP from the
proxy's address. ``X-Forwarded-Proto`` and ``X-Forwarded-For`` tell the real scheme and
client, but anybody can send those headers: they are honoured only when the connection
comes from a proxy listed in ``TRUSTED_PROXIES`` (addresses or CIDRs, comma-separated).
Then ``request.secure`` is true behind HTTPS (so cookies get ``Secure``) and
``request.remote`` is the client's address (the first untrusted hop from the right of
``X-Forwarded-For``), for logs and per-address throttles.
"""
from __future__ import annotations

import ipaddress
import logging
from typing import Any, Iterable

from aiohttp import web

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str | Iterable[str]) -> tuple[Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8"`` as networks; a bad entry is an error (a typo must not trust everyone)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    networks = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(f"TRUSTED_PROXIES: {item!r} is not an address or CIDR") from exc
    return tuple(networks)


def _address(text: str | None):
    if not text:
        return None
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


class TrustedProxies:
    def __init__(self, networks: Iterable[Network] = ()):
        self.networks = tuple(networks)

    def trusts(self, host: str | None) -> bool:
        address = _address(host)
        return address is not None and any(address in network for network in self.networks)

    def client(self, peer: str | None, forwarded_for: str) -> str | None:
        """The client's address: the rightmost hop of the chain that is not a trusted proxy."""
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        candidate = peer
        for hop in reversed(hops):
            if _address(hop) is None:
                break  # garbage in the chain: stop at the last good hop
            candidate = hop
            if not self.trusts(hop):
                break
        return candidate

    def middleware(self):
        @web.middleware
        async def forwarded(request: web.Request, handler):
            if not self.networks or not self.trusts(request.remote):
                return await handler(request)
            changes: dict[str, Any] = {}
            proto = request.headers.get("X-Forwarded-Proto", "")
            # One value is usual; proxies that append give "https, http": the first is the client's.
            proto = proto.split(",")[0].strip().lower()
            if proto in ("http", "https"):
                changes["scheme"] = proto
            forwarded_for = request.headers.get("X-Forwarded-For", "")
            if forwarded_for:
                client = self.client(request.remote, forwarded_for)
                if client:
                    changes["remote"] = client
            if not changes:
                return await handler(request)
            return await handler(request.clone(**changes))

        return forwarded


def setup(app: web.Application, trusted: str | Iterable[str]) -> None:
    """Puts the forwarded-header middleware first, so every other one sees the real client."""
    proxies = TrustedProxies(parse_networks(trusted))
    if proxies.networks:
        app.middlewares.insert(0, proxies.middleware())
        log.info("trusting X-Forwarded-Proto/-For from %s", ", ".join(str(n) for n in proxies.networks))
