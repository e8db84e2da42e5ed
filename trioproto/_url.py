"""Parsing ``ws://`` and ``wss://`` URLs (RFC 6455 §3). Layer 0: no trio import."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

__all__ = ["WebSocketURL", "parse_url"]


@dataclass(frozen=True, slots=True)
class WebSocketURL:
    """A parsed WebSocket URI.

    Attributes:
        secure: ``wss`` (TLS) rather than ``ws``.
        host: the host name or address (IPv6 without brackets).
        port: the explicit port, or 80 / 443 by default (RFC 6455 §3).
        resource: the path and query to put in the request line, at least ``/``.
    """

    secure: bool
    host: str
    port: int
    resource: str

    @property
    def host_header(self) -> str:
        """The ``Host`` header value: the port only when it is not the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.secure else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_url(url: str) -> WebSocketURL:
    """Parse ``url``; fragments are not allowed (RFC 6455 §3).

    Raises:
        ValueError: not a ws:// or wss:// URL, no host, a fragment, or a bad port.
    """
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("ws", "wss"):
        raise ValueError(f"not a WebSocket URL (ws:// or wss://): {url!r}")
    if parts.fragment or url.endswith("#"):
        raise ValueError(f"a WebSocket URL cannot have a fragment: {url!r}")
    if not parts.hostname:
        raise ValueError(f"no host in {url!r}")
    secure = scheme == "wss"
    port = parts.port  # raises ValueError for an out-of-range port
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    return WebSocketURL(secure, parts.hostname, port or (443 if secure else 80), resource)
