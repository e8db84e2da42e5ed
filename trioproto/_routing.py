"""Routes: plain HTTP endpoints and WebSocket endpoints on one port, by path.

Layer 2: no trio import. Rules:

* Patterns are paths with ``{name}`` placeholders, each matching one non-empty path segment
  (``/ws/quotes/{name}``); routes are tried in the order they were added, first match wins.
* A WebSocket route binds a path to a :class:`~trioproto.Registry`; an HTTP route binds a path
  and a set of methods (``route(pattern, methods=...)``, ``get``, ``post``) to a coroutine
  ``handler(request) -> HttpResponse``. GET routes answer HEAD too, without the body (RFC 9110
  §9.3.2). The request body is read before the handler runs (see :class:`HttpRequest`).
* Resolution answers, in this order: a WebSocket upgrade on a WebSocket route; an HTTP route
  for the method (upgrade requests included: its handler may return :class:`UpgradeTo`); 426
  for a plain request on a WebSocket-only path (RFC 9110 §15.5.22); 405 with ``Allow`` for a
  known path with another method; then the default registry (:meth:`Router.websocket_default`)
  if one is set; 404 otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeAlias

from ._counters import ANY_ROUTE
from ._exceptions import InvalidHandshake
from ._registry import Activation, Handler, Registry
from ._sansio._handshake import split_request_target
from ._sansio._http import Headers, Request

__all__ = [
    "HttpHandler",
    "HttpRequest",
    "HttpResponse",
    "Router",
    "UpgradeTo",
    "split_target",
]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A plain HTTP request routed to an HTTP handler.

    Attributes:
        method: ``"GET"``, ``"HEAD"``, ...
        path: the percent-decoded path.
        query: the decoded query parameters.
        headers: the request headers.
        path_params: values captured by the route pattern.
        remote: the peer's address.
        body: the request body, ``Content-Length`` bytes read before the handler runs (at
            most ``Limits.max_http_body_size``; larger bodies are answered 413, chunked ones
            411); empty when the request has none.
    """

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Headers
    path_params: Mapping[str, str] = field(default_factory=dict)
    remote: object = None
    body: bytes = b""

    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes become U+FFFD)."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> object:
        """The body parsed as JSON (RFC 8259).

        Raises:
            ValueError: the body is not valid JSON.
        """
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """What an HTTP handler returns: a status, headers and a body.

    ``Content-Length`` is added by the server; the connection is closed after the response.
    """

    status: int = 200
    headers: Sequence[tuple[str, str]] = ()
    body: bytes = b""

    @classmethod
    def text(cls, text: str, status: int = 200) -> HttpResponse:
        """A ``text/plain; charset=utf-8`` response."""
        return cls(status, (("Content-Type", "text/plain; charset=utf-8"),), text.encode())

    @classmethod
    def json(cls, value: object, status: int = 200) -> HttpResponse:
        """An ``application/json`` response of ``json.dumps(value)``."""
        return cls(status, (("Content-Type", "application/json"),), json.dumps(value).encode())

    @classmethod
    def html(cls, html: str, status: int = 200) -> HttpResponse:
        """A ``text/html; charset=utf-8`` response."""
        return cls(status, (("Content-Type", "text/html; charset=utf-8"),), html.encode())


@dataclass(frozen=True, slots=True)
class UpgradeTo:
    """What an HTTP handler returns to upgrade its request to a WebSocket after all.

    The request is then validated as an opening handshake (RFC 6455 §4.2.1) and, if valid,
    answered with 101 and served by ``handler``.

    Attributes:
        handler: the coroutine that serves the connection.
        subprotocol: answered when the client offered it; the handler runs either way.
        activation: ``"delayed"`` to read nothing until ``ws.activate()``.
    """

    handler: Handler
    subprotocol: str | None = None
    activation: Activation = "immediate"

    def registry(self) -> Registry:
        """A registry that sends every client to :attr:`handler`."""
        registry = Registry(fallback_to_default=True)
        if self.subprotocol is not None:
            registry.register(self.subprotocol, self.handler, activation=self.activation)
        registry.register(None, self.handler, activation=self.activation)
        return registry


HttpHandler: TypeAlias = Callable[[HttpRequest], Awaitable["HttpResponse | UpgradeTo"]]


@dataclass(frozen=True, slots=True)
class _Route:
    pattern: str
    regex: re.Pattern[str]
    registry: Registry | None = None
    handler: HttpHandler | None = None
    methods: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class WebSocketMatch:
    """A request resolved to a WebSocket route (``pattern``: the route's, for metrics)."""

    registry: Registry
    path_params: Mapping[str, str]
    pattern: str


@dataclass(frozen=True, slots=True)
class HttpMatch:
    """A request resolved to an HTTP route (``pattern``: the route's, for metrics)."""

    handler: HttpHandler
    path_params: Mapping[str, str]
    pattern: str


def split_target(target: str) -> tuple[str, dict[str, list[str]]]:
    """A request target's percent-decoded path and decoded query, for routing (see
    :func:`~trioproto._sansio._handshake.split_request_target`, which raises the same 400).
    """
    _, path, _, query = split_request_target(target)
    return path, query


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Turn ``/a/{name}/b`` into a regex capturing ``name`` from one path segment.

    Raises:
        ValueError: the pattern does not start with ``/`` or repeats a placeholder name.
    """
    if not pattern.startswith("/"):
        raise ValueError(f"route pattern must start with '/': {pattern!r}")
    names: list[str] = []
    parts: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(pattern):
        parts.append(re.escape(pattern[position : match.start()]))
        name = match.group(1)
        if name in names:
            raise ValueError(f"placeholder {{{name}}} appears twice in {pattern!r}")
        names.append(name)
        parts.append(f"(?P<{name}>[^/]+)")
        position = match.end()
    parts.append(re.escape(pattern[position:]))
    return re.compile("".join(parts))


class Router:
    """HTTP and WebSocket routes by path, served together by :func:`trioproto.serve`.

    Example::

        router = trioproto.Router()
        router.websocket("/ws/quotes/{name}", quotes_registry)

        @router.get("/status")
        async def status(request):
            return trioproto.HttpResponse.json({"ok": True})
    """

    def __init__(self) -> None:
        self._routes: list[_Route] = []
        self._default: Registry | None = None

    def __len__(self) -> int:
        """The number of routes."""
        return len(self._routes)

    def http_handlers(self) -> list[HttpHandler]:
        """The handlers of the HTTP routes, in the order they were added."""
        return [route.handler for route in self._routes if route.handler is not None]

    def websocket(self, pattern: str, registry: Registry) -> None:
        """Serve WebSocket connections on paths matching ``pattern`` with ``registry``."""
        self._routes.append(_Route(pattern, compile_pattern(pattern), registry=registry))

    def websocket_default(self, registry: Registry) -> None:
        """Serve WebSocket connections on every path no route matches with ``registry``, as
        ``serve(registry)`` does; such connections are counted under the route ``*``."""
        self._default = registry

    def route(
        self, pattern: str, *, methods: Iterable[str] = ("GET",)
    ) -> Callable[[HttpHandler], HttpHandler]:
        """Decorator: serve plain HTTP ``methods`` on ``pattern`` (GET implies HEAD)."""
        allowed = {method.upper() for method in methods}
        if "GET" in allowed:
            allowed.add("HEAD")

        def decorate(handler: HttpHandler) -> HttpHandler:
            self._routes.append(
                _Route(
                    pattern, compile_pattern(pattern), handler=handler, methods=frozenset(allowed)
                )
            )
            return handler

        return decorate

    def get(self, pattern: str) -> Callable[[HttpHandler], HttpHandler]:
        """Decorator: serve GET (and HEAD) on ``pattern``."""
        return self.route(pattern, methods=("GET",))

    def post(self, pattern: str) -> Callable[[HttpHandler], HttpHandler]:
        """Decorator: serve POST on ``pattern``; the handler reads ``request.body``."""
        return self.route(pattern, methods=("POST",))

    def resolve(self, request: Request, path: str) -> WebSocketMatch | HttpMatch:
        """Find what serves ``request`` (whose decoded path is ``path``).

        Raises:
            InvalidHandshake: 404, 405 (with ``Allow``) or 426 (with ``Upgrade: websocket``).
        """
        wants_upgrade = any(
            token.lower() == "websocket" for token in request.headers.get_list("Upgrade")
        )
        allowed: set[str] = set()
        websocket_only = False
        for route in self._routes:
            match = route.regex.fullmatch(path)
            if match is None:
                continue
            params = MappingProxyType(match.groupdict())
            if route.registry is not None:
                if wants_upgrade or request.method != "GET":
                    return WebSocketMatch(route.registry, params, route.pattern)
                websocket_only = True
                continue
            assert route.handler is not None
            if request.method in route.methods:
                # Upgrade requests too: the handler may answer UpgradeTo (RFC 9110 §7.8
                # lets a server ignore Upgrade and answer in HTTP).
                return HttpMatch(route.handler, params, route.pattern)
            allowed |= route.methods
        if websocket_only and not allowed:
            raise InvalidHandshake(
                f"{path} is a WebSocket endpoint: send a WebSocket upgrade request",
                426,
                (("Upgrade", "websocket"), ("Connection", "Upgrade")),
            )
        if allowed:
            raise InvalidHandshake(
                f"method {request.method} is not allowed on {path}",
                405,
                (("Allow", ", ".join(sorted(allowed))),),
            )
        if self._default is not None:
            return WebSocketMatch(self._default, MappingProxyType({}), ANY_ROUTE)
        raise InvalidHandshake(f"no route for {path}", 404)
