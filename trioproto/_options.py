"""How a server treats each connection: one frozen, validated set of options and defaults.

Every entry point that serves connections (``serve``, :class:`WebSocketServer`,
``upgrade_stream``, ``run``, the command line and the testing helpers) builds one
:class:`ServerOptions`, so a handler is tested with the settings it runs with in production.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import TypeAlias

from ._config import DEFAULT_LIMITS, DEFAULT_TIMEOUTS, Limits, Timeouts
from ._outbox import DEFAULT_POLICY, BackpressurePolicy
from ._request import Accept, Reject, WebSocketRequest
from ._sansio._deflate import DeflatePolicy

__all__ = ["DEFAULT_COMPRESSION", "DEFAULT_SERVER_OPTIONS", "HandshakeHook", "ServerOptions"]

#: permessage-deflate as servers and clients negotiate it unless told otherwise (browsers
#: offer it; see the costs in ``_sansio/_deflate.py``).
DEFAULT_COMPRESSION = DeflatePolicy()

#: Called with the request and the chosen subprotocol before the 101 is sent.
HandshakeHook: TypeAlias = Callable[
    [WebSocketRequest, str | None], Awaitable[Accept | Reject | None]
]


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """What the server side of every connection uses.

    Attributes:
        limits: size limits, ``max_connections`` included.
        timeouts: handshake, close, keepalive and activation timeouts.
        compression: the permessage-deflate policy (RFC 7692); ``None`` turns it off.
        origins: the allowed ``Origin`` values (``None`` in it admits clients that send no
            Origin, i.e. non-browsers); others get 403 (RFC 6455 §10.2). ``None``: no check.
        on_handshake: ``async hook(request, subprotocol)`` called before the 101.
        backpressure: what happens when a connection's queued hub messages pass
            ``Limits.max_send_buffer`` (a :class:`~trioproto.BackpressurePolicy`; its
            ``on_limit`` string alone will do): close with 1013 by default.
        access_log: log one record per connection when it ends, and one per rejected
            handshake, on the ``trioproto.access`` logger (fields in ``_access_log``).
    """

    limits: Limits = DEFAULT_LIMITS
    timeouts: Timeouts = DEFAULT_TIMEOUTS
    compression: DeflatePolicy | None = DEFAULT_COMPRESSION
    origins: frozenset[str | None] | None = field(default=None)
    on_handshake: HandshakeHook | None = None
    backpressure: BackpressurePolicy = DEFAULT_POLICY
    access_log: bool = False

    def __init__(
        self,
        *,
        limits: Limits = DEFAULT_LIMITS,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        compression: DeflatePolicy | None = DEFAULT_COMPRESSION,
        origins: Collection[str | None] | None = None,
        on_handshake: HandshakeHook | None = None,
        backpressure: BackpressurePolicy | str = DEFAULT_POLICY,
        access_log: bool = False,
    ) -> None:
        if not isinstance(limits, Limits):
            raise TypeError(f"limits must be a Limits, not {type(limits).__name__}")
        if not isinstance(timeouts, Timeouts):
            raise TypeError(f"timeouts must be a Timeouts, not {type(timeouts).__name__}")
        if compression is not None and not isinstance(compression, DeflatePolicy):
            raise TypeError(
                f"compression must be a DeflatePolicy or None, not {type(compression).__name__}"
            )
        if isinstance(origins, str):
            raise TypeError("origins must be a collection of origins, not one string")
        if on_handshake is not None and not callable(on_handshake):
            raise TypeError("on_handshake must be an async function or None")
        object.__setattr__(self, "limits", limits)
        object.__setattr__(self, "timeouts", timeouts)
        object.__setattr__(self, "compression", compression)
        object.__setattr__(self, "origins", None if origins is None else frozenset(origins))
        object.__setattr__(self, "on_handshake", on_handshake)
        object.__setattr__(self, "backpressure", BackpressurePolicy.coerce(backpressure))
        object.__setattr__(self, "access_log", bool(access_log))


DEFAULT_SERVER_OPTIONS = ServerOptions()
