"""The subprotocol registry: one coroutine handler per ``Sec-WebSocket-Protocol`` name.

Layer 2: no trio import. Rules:

* A name is an RFC 7230 token (RFC 6455 §4.1 and §11.3.4: subprotocol names are tokens); a
  name registered twice is an error at registration time, not at the first connection.
* ``None`` registers the handler for clients that offer no subprotocol.
* Negotiation follows the server's preference: the first registered name the client offered
  wins (RFC 6455 §4.2.2 leaves the choice to the server).
* A client offering only unknown names, or none when there is no ``None`` handler, is refused
  with 400 and a body listing the names served, unless ``fallback_to_default`` sends such
  clients to the ``None`` handler without a subprotocol.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

from ._exceptions import InvalidHandshake
from ._sansio._abnf import is_token
from ._sansio._handshake import select_subprotocol

if TYPE_CHECKING:
    from ._connection import WebSocket

__all__ = ["Activation", "Handler", "HandlerEntry", "Registry", "Selection"]

#: A WebSocket handler: ``async def handler(ws)``, called once per connection.
Handler: TypeAlias = Callable[["WebSocket"], Awaitable[None]]
#: When a handler's connection starts reading frames (RESTinio's delayed activation).
Activation: TypeAlias = Literal["immediate", "delayed"]


@dataclass(frozen=True, slots=True)
class HandlerEntry:
    """A registered handler and how its connections start.

    Attributes:
        handler: the coroutine function called with each connection's ``WebSocket``.
        activation: ``"immediate"`` reads frames at once; ``"delayed"`` waits for
            ``ws.activate()`` (RESTinio's delayed activation).
    """

    handler: Handler
    activation: Activation = "immediate"


@dataclass(frozen=True, slots=True)
class Selection:
    """The outcome of negotiation: the subprotocol to answer with and its handler."""

    subprotocol: str | None
    entry: HandlerEntry


class Registry:
    """Maps subprotocol names to handlers.

    Args:
        fallback_to_default: send clients whose offers are all unknown to the ``None``
            handler (answering without ``Sec-WebSocket-Protocol``) instead of refusing them.

    Example::

        registry = trioproto.Registry()

        @registry.handler("echo")
        @registry.handler(None)
        async def echo(ws):
            async for message in ws.inbound:
                await ws.outbound.send(message)
    """

    def __init__(self, *, fallback_to_default: bool = False) -> None:
        self.fallback_to_default = fallback_to_default
        self._entries: dict[str | None, HandlerEntry] = {}

    def register(
        self, name: str | None, handler: Handler, *, activation: Activation = "immediate"
    ) -> None:
        """Register ``handler`` for subprotocol ``name`` (``None``: no subprotocol offered).

        Raises:
            ValueError: ``name`` is not an RFC 7230 token, is already registered, or
                ``activation`` is unknown.
            TypeError: ``handler`` is not callable.
        """
        if name is not None and not is_token(name):
            raise ValueError(f"subprotocol name {name!r} is not an RFC 7230 token")
        if name in self._entries:
            what = "the no-subprotocol handler" if name is None else f"subprotocol {name!r}"
            raise ValueError(f"{what} is already registered")
        if activation not in ("immediate", "delayed"):
            raise ValueError(f"activation must be 'immediate' or 'delayed', not {activation!r}")
        if not callable(handler):
            raise TypeError(f"handler must be a coroutine function, not {handler!r}")
        self._entries[name] = HandlerEntry(handler, activation)

    def handler(
        self, name: str | None, *, activation: Activation = "immediate"
    ) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`register`; returns the function unchanged, so it stacks."""

        def decorate(handler: Handler) -> Handler:
            self.register(name, handler, activation=activation)
            return handler

        return decorate

    @property
    def subprotocols(self) -> tuple[str, ...]:
        """The registered names in preference (registration) order, ``None`` left out."""
        return tuple(name for name in self._entries if name is not None)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def select(self, offered: Sequence[str]) -> Selection:
        """Choose the handler for a client that offered ``offered`` (in its order).

        Raises:
            InvalidHandshake: 400, no registered handler fits; the reason names what is served.
        """
        if offered:
            name = select_subprotocol(offered, self.subprotocols)
            if name is not None:
                return Selection(name, self._entries[name])
            if self.fallback_to_default and None in self._entries:
                return Selection(None, self._entries[None])
            raise InvalidHandshake(
                f"none of the offered subprotocols ({', '.join(offered)}) is served; "
                f"{self._served()}"
            )
        default = self._entries.get(None)
        if default is None:
            raise InvalidHandshake(f"a subprotocol is required; {self._served()}")
        return Selection(None, default)

    def _served(self) -> str:
        names = self.subprotocols
        if not names:
            return "this endpoint serves no subprotocol"
        return "served: " + ", ".join(names)
