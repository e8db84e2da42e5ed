"""Parsing ``ws://`` and ``wss://`` URLs (RFC 6455 §3), and ``ws+unix://`` for Unix sockets.

Layer 0: no trio import.

``ws+unix://`` (and ``wss+unix://``) is not in RFC 6455; it is the form Node's ``ws`` and
``requests-unixsocket`` use: the socket's path follows the scheme, and an optional resource
follows the first ``:/``, as in ``ws+unix:///run/app.sock:/chat?room=1``. The request then says
``Host: localhost``. It is what ``python -m trioproto serve --unix PATH`` prints.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

__all__ = ["WebSocketURL", "parse_url", "unix_url"]

_UNIX_SCHEMES = {"ws+unix": False, "wss+unix": True}


@dataclass(frozen=True, slots=True)
class WebSocketURL:
    """A parsed WebSocket URI.

    Attributes:
        secure: ``wss`` (TLS) rather than ``ws``.
        host: the host name or address (IPv6 without brackets); ``localhost`` for a Unix socket.
        port: the explicit port, or 80 / 443 by default (RFC 6455 §3).
        resource: the path and query to put in the request line, at least ``/``.
        unix_path: the Unix socket to connect to instead of ``host:port``, if any.
    """

    secure: bool
    host: str
    port: int
    resource: str
    unix_path: str | None = None

    @property
    def host_header(self) -> str:
        """The ``Host`` header value: the port only when it is not the default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.secure else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_url(url: str) -> WebSocketURL:
    """Parse ``url``; fragments are not allowed (RFC 6455 §3).

    Raises:
        ValueError: not a ws://, wss:// or ws+unix:// URL, no host (or socket path), a
            fragment, or a bad port.
    """
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in _UNIX_SCHEMES:
        return _parse_unix(url, _UNIX_SCHEMES[scheme.lower()], rest)
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("ws", "wss"):
        raise ValueError(f"not a WebSocket URL (ws://, wss:// or ws+unix://): {url!r}")
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


def _parse_unix(url: str, secure: bool, rest: str) -> WebSocketURL:
    if "#" in rest:
        raise ValueError(f"a WebSocket URL cannot have a fragment: {url!r}")
    split = rest.find(":/")
    path, resource = (rest, "/") if split < 0 else (rest[:split], rest[split + 1 :])
    if not path:
        raise ValueError(f"no socket path in {url!r}")
    return WebSocketURL(secure, "localhost", 443 if secure else 80, resource, unix_path=path)


def unix_url(path: str, *, secure: bool = False) -> str:
    """The ``ws+unix://`` URL of a server listening on the Unix socket ``path``.

    Raises:
        ValueError: the path contains ``:/`` or ``#``, which the URL form cannot carry.
    """
    if ":/" in path or "#" in path:
        raise ValueError(f"a ws+unix:// URL cannot carry a socket path with ':/' or '#': {path!r}")
    return f"{'wss' if secure else 'ws'}+unix://{path}"
