"""Browser safety: which Host and Origin headers the service answers.

A service on 127.0.0.1 is reachable from every web page the user opens: a
page can POST a form to it (the browser sends it, cross-origin or not), and
with DNS rebinding (the page's own name re-pointed at 127.0.0.1) it can read
the answers too. Two checks close both:

- Host: the name the browser thinks it is talking to must be this machine's
  (localhost, 127.0.0.1, [::1]), the address the service is bound to, or one
  the user allowed (``--allow-host``). A rebinding page sends its own name.
  When bound to every interface (0.0.0.0, ::), any IP literal is accepted:
  rebinding needs a name, never an address.
- Origin: a request a browser sends on behalf of a page carries the page's
  origin; it is refused unless it is the service's own (its /docs page) or
  one the user allowed (``--allow-origin``, ``*`` for any). Allowed origins
  also get CORS answers (preflight and ``Access-Control-Allow-Origin``), so
  a web app of the user's own can call the service. Programs that are not
  browsers send no Origin and are not affected.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})


def split_host(value: str) -> str:
    """The host name of a Host header or netloc, lower-case, without port or IPv6 brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value[1:]
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value  # a bare IPv6 address or a name without port


def is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class BrowserPolicy:
    """Hosts and origins the service answers (see the module docstring).

    bound_host: the address the server listens on.
    allowed_hosts: extra Host names (``*``: any).
    allowed_origins: extra origins such as ``http://localhost:3000`` (``*``: any).
    """

    bound_host: str = "127.0.0.1"
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()

    def host_allowed(self, host: str | None) -> bool:
        """True for a Host header naming this machine, the bound address or an allowed name."""
        if host is None:  # HTTP/1.0 clients; every browser sends Host
            return True
        if "*" in self.allowed_hosts:
            return True
        name = split_host(host)
        bound = split_host(self.bound_host)
        if name in LOOPBACK_NAMES or name == bound or name in {split_host(h) for h in self.allowed_hosts}:
            return True
        return bound in WILDCARD_BINDS and is_ip_literal(name)

    def origin_allowed(self, origin: str | None, host: str | None) -> bool:
        """True when no browser page is involved, the page is the service's own, or its origin is allowed."""
        if origin is None:
            return True
        origin = origin.strip().rstrip("/").lower()
        if "*" in self.allowed_origins or origin in {o.strip().rstrip("/").lower() for o in self.allowed_origins}:
            return True
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and host is not None and parts.netloc == host.strip().lower()

    def cors_origin(self, origin: str | None) -> str | None:
        """The value for ``Access-Control-Allow-Origin`` when ``origin`` was allowed explicitly."""
        if origin is None:
            return None
        if "*" in self.allowed_origins:
            return origin
        wanted = origin.strip().rstrip("/").lower()
        return origin if wanted in {o.strip().rstrip("/").lower() for o in self.allowed_origins} else None
