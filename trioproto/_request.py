"""What a handler learns about the request that opened its connection.

Layer 2: no trio import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._sansio._handshake import HandshakeRequest
    from ._sansio._http import Headers

__all__ = ["Accept", "Reject", "WebSocketRequest"]

_EMPTY: Mapping[str, str] = MappingProxyType({})
_EMPTY_STATE: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class WebSocketRequest:
    """The opening handshake request of a connection (RFC 6455 §4.2.1).

    Attributes:
        path: the percent-decoded path of the request target, e.g. ``"/ws/quotes/ACME"``.
        query: the decoded query parameters, each name mapped to its values in order.
        headers: the request headers, case-insensitive.
        path_params: values captured by a route pattern such as ``/ws/quotes/{name}``.
        remote: the peer's address as the transport reports it (``(host, port)`` for TCP).
        handshake: the validated handshake, with the raw request, key and offers.
    """

    path: str
    query: Mapping[str, list[str]]
    headers: Headers
    handshake: HandshakeRequest
    path_params: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    remote: object = None

    @classmethod
    def from_handshake(
        cls,
        handshake: HandshakeRequest,
        *,
        path_params: Mapping[str, str] = _EMPTY,
        remote: object = None,
    ) -> WebSocketRequest:
        """Build the handler's view from a validated handshake request."""
        return cls(
            path=handshake.path,
            query=handshake.query,
            headers=handshake.headers,
            handshake=handshake,
            # A route without parameters shares the one empty mapping (an idle connection
            # holds this for its whole life).
            path_params=MappingProxyType(dict(path_params)) if path_params else _EMPTY,
            remote=remote,
        )


@dataclass(frozen=True, slots=True)
class Accept:
    """A handshake hook's decision to accept.

    Attributes:
        headers: headers to add to the 101 response.
        state: entries the connection's ``ws.state`` starts with: what the hook learnt (the
            authenticated user, a session), so the handler need not work it out again.
    """

    headers: tuple[tuple[str, str], ...] = ()
    state: Mapping[str, Any] = field(default_factory=lambda: _EMPTY_STATE)


@dataclass(frozen=True, slots=True)
class Reject:
    """A handshake hook's decision to refuse with an HTTP status and a short text body."""

    status: int = 403
    body: str = "Forbidden"
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not 400 <= self.status <= 599:
            raise ValueError(f"a rejection needs a 4xx or 5xx status, not {self.status}")
