"""The server's side of the opening handshake (RFC 6455 §4.2): read the request head, then
answer it with 101, with a plain HTTP route's response, or with a refusal.

:class:`OpeningHandshake` does no counting and runs no handler: it returns an
:class:`Accepted` for the caller to run, a :class:`Rejected` with the status it answered, or
the :class:`Unserved` reason the connection ends here. Every refusal is an
:class:`~trioproto.InvalidHandshake` carrying its status, turned into bytes in one place
(:func:`_refuse`).

Two ways in. :meth:`OpeningHandshake.read_and_answer` waits for what it needs, so its caller
bounds it by the handshake timeout (a cancel scope). :meth:`OpeningHandshake.answer_at_once`
waits for nothing: on the server's own socket transport, when the connection first runs, the
whole request has usually arrived already, and a WebSocket request that no hook, HTTP route or
refusal has to look at is answered there and then, with no timeout needed because nothing can
stall. Anything else (a partial head, a route, a hook, a refusal, a 101 the socket did not take
at once) goes on in ``read_and_answer`` from where it stopped (:class:`Unfinished`), nothing
read twice. The timeout's cancel scope was ~8 % of a short connection's interpreted work (~700
of ~9,000 bytecodes), so the common case goes without it.
"""

from __future__ import annotations

import contextlib
import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from ._body import discard_unread_body, receive_body
from ._counters import ANY_ROUTE
from ._exceptions import InvalidHandshake
from ._options import ServerOptions
from ._registry import Registry, Selection
from ._request import Accept, Reject, WebSocketRequest
from ._routing import HttpMatch, HttpRequest, Router, UpgradeTo, WebSocketMatch, split_target
from ._sansio._deflate import PerMessageDeflate, negotiate_server
from ._sansio._handshake import (
    HandshakeRequest,
    accept_response,
    reject_error,
    reject_response,
    validate_request,
)
from ._sansio._http import Request, RequestHeadParser, request_body_length, serialize_response
from ._tls_transport import send_after_yield_of
from ._transport import SocketTransport

__all__ = ["NOTHING_YET", "Accepted", "OpeningHandshake", "Rejected", "Unfinished", "Unserved"]

logger = logging.getLogger("trioproto")

_HANDSHAKE_READ_SIZE = 16 * 1024


@dataclass(frozen=True, slots=True)
class Accepted:
    """A handshake answered with 101: what the handler's connection is built from.

    Attributes:
        request: the handler's view of the request.
        selection: the chosen subprotocol and its handler.
        trailing_data: bytes received after the request head (the first frames, perhaps).
        compression: the negotiated permessage-deflate, or ``None``.
        route: the pattern of the route that matched (``*``: a registry serving every path).
        state: what the handshake hook put in its :class:`~trioproto.Accept` for ``ws.state``.
    """

    request: WebSocketRequest
    selection: Selection
    trailing_data: bytes
    compression: PerMessageDeflate | None
    route: str
    state: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A handshake refused with an HTTP error status.

    Attributes:
        error: the refusal, with its ``http_status``.
        request: the request refused, or ``None`` when it could not be parsed.
    """

    error: InvalidHandshake
    request: Request | None


class Unserved(enum.Enum):
    """Why a connection ended at the handshake."""

    #: a plain HTTP route answered the request (not a failure).
    ANSWERED = "answered"
    #: dropped before a complete request (EOF, a broken stream, a TLS error).
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Unfinished:
    """How far a handshake got before it had to wait: :meth:`OpeningHandshake.read_and_answer`
    goes on from here.

    Attributes:
        received: bytes read that hold no whole request yet (or a malformed one, refused when
            parsed again); with ``request``, the bytes that came after its head.
        request: a whole request head, not answered yet.
        accepted: a handshake answered with 101 whose ``unsent`` tail the socket did not take.
        unsent: that tail.
    """

    received: bytes = b""
    request: Request | None = None
    accepted: Accepted | None = None
    unsent: bytes = b""


#: Nothing read yet.
NOTHING_YET = Unfinished()


class OpeningHandshake:
    """Reads and answers opening handshakes for one app.

    Args:
        app: the registry serving every path, or the router.
        options: origins, hook, compression and the request head limits.

    Attributes:
        shutting_down: once set, every request is answered 503.
    """

    def __init__(self, app: Registry | Router, options: ServerOptions) -> None:
        self.app = app
        self.options = options
        self.shutting_down = False

    async def read_and_answer(
        self,
        stream: trio.abc.Stream,
        remote: object,
        so_far: Unfinished = NOTHING_YET,
        *,
        just_yielded: bool = False,
    ) -> Accepted | Rejected | Unserved:
        """Read the rest of the request head from ``stream`` (nothing if ``so_far`` holds a
        whole one), then answer it (see :meth:`answer`).

        ``just_yielded``: the caller has just passed a schedule point (it matters only when
        nothing is read here).
        """
        try:
            if so_far.accepted is not None:  # the 101's tail is all that is left
                await stream.send_all(so_far.unsent)
                return so_far.accepted
            request, trailing_data = so_far.request, so_far.received
            if request is None:
                parser = RequestHeadParser(self.options.limits)
                try:
                    if trailing_data:
                        request = parser.feed(trailing_data)
                    while request is None:
                        data = await stream.receive_some(_HANDSHAKE_READ_SIZE)
                        if not data:
                            logger.debug("%s closed the connection during the handshake", remote)
                            return Unserved.FAILED
                        request = parser.feed(data)
                        just_yielded = True  # receive_some passed a schedule point
                except InvalidHandshake as exc:
                    return await _refuse(stream, remote, exc, None)
                trailing_data = parser.trailing_data
            return await self.answer(
                stream, request, trailing_data, remote, just_yielded=just_yielded
            )
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            logger.debug("handshake with %s failed: %r", remote, exc)
            return Unserved.FAILED

    def answer_at_once(
        self, transport: SocketTransport, remote: object
    ) -> Accepted | Unserved | Unfinished:
        """Read what has arrived and, if it is a whole WebSocket request that needs nothing
        waited for, answer it with 101 now; else say how far it got (see the module docstring).

        Nothing here waits or yields, so no timeout is needed; :meth:`read_and_answer` takes
        over an :class:`Unfinished`. The caller is a connection's task that has just started
        (spawned by the accept loop, a scheduler pass ago: that was its schedule point).
        """
        try:
            received = transport.receive_nowait(_HANDSHAKE_READ_SIZE)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            logger.debug("handshake with %s failed: %r", remote, exc)
            return Unserved.FAILED
        if received is None:
            return NOTHING_YET
        if not received:
            logger.debug("%s closed the connection during the handshake", remote)
            return Unserved.FAILED
        parser = RequestHeadParser(self.options.limits)
        try:
            request = parser.feed(received)
        except InvalidHandshake:
            return Unfinished(received)  # read_and_answer parses it again, and refuses it
        if request is None:
            return Unfinished(received)
        trailing_data = parser.trailing_data
        answered = self._accept_at_once(request, trailing_data, remote)
        if answered is None:
            return Unfinished(trailing_data, request)
        response, accepted = answered
        try:
            sent = transport.send_nowait(response)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            logger.debug("handshake with %s failed: %r", remote, exc)
            return Unserved.FAILED
        if sent < len(response):
            return Unfinished(accepted=accepted, unsent=response[sent:])
        return accepted

    def _accept_at_once(
        self, request: Request, trailing_data: bytes, remote: object
    ) -> tuple[bytes, Accepted] | None:
        """The 101 (RFC 6455 §4.2.2) and what it accepts, for a WebSocket request that no
        handshake hook or HTTP route has to see; ``None`` for any other, and for one to refuse
        (:meth:`answer` refuses it, with the same checks in the same order)."""
        if self.shutting_down or self.options.on_handshake is not None:
            return None
        try:
            path, _ = split_target(request.target)
            match = self._resolve(request, path)
            if isinstance(match, HttpMatch):
                return None
            handshake, selection, ws_request = self._check(request, match, remote)
            extension_header, compression = self._negotiate_compression(handshake.extensions)
        except InvalidHandshake:
            return None
        response = accept_response(
            handshake, subprotocol=selection.subprotocol, extensions=extension_header
        )
        return response, Accepted(ws_request, selection, trailing_data, compression, match.pattern)

    async def answer(
        self,
        stream: trio.abc.Stream,
        request: Request,
        trailing_data: bytes,
        remote: object,
        *,
        just_yielded: bool = False,
    ) -> Accepted | Rejected | Unserved:
        """Route a request: serve an HTTP route, refuse it, or send the 101 (RFC 6455 §4.2.2).

        With ``just_yielded`` (the caller has just passed a schedule point, reading the
        request), the 101 goes out on our own transports without a second yield unless the
        socket is full: one scheduler pass less per connection.

        Raises:
            trio.BrokenResourceError: the 101 could not be sent.
        """
        try:
            if self.shutting_down:
                raise InvalidHandshake("server shutting down", 503)
            path, query = split_target(request.target)
            match = self._resolve(request, path)
            if isinstance(match, HttpMatch):
                upgrade = await _serve_http(
                    stream,
                    request,
                    trailing_data,
                    match,
                    path,
                    query,
                    remote,
                    self.options.limits.max_http_body_size,
                )
                if isinstance(upgrade, Rejected | Unserved):
                    return upgrade
                match = WebSocketMatch(upgrade.registry(), match.path_params, match.pattern)
            handshake, selection, ws_request = self._check(request, match, remote)
            extra_headers: tuple[tuple[str, str], ...] = ()
            state: Mapping[str, Any] = {}
            if self.options.on_handshake is not None:
                decision = await self._decide(ws_request, selection.subprotocol)
                if isinstance(decision, Reject):
                    raise InvalidHandshake(decision.body, decision.status, decision.headers)
                if isinstance(decision, Accept):
                    extra_headers, state = decision.headers, decision.state
            extension_header, compression = self._negotiate_compression(handshake.extensions)
        except InvalidHandshake as exc:
            return await _refuse(stream, remote, exc, request)
        response = accept_response(
            handshake,
            subprotocol=selection.subprotocol,
            extensions=extension_header,
            extra_headers=extra_headers,
        )
        # The hook (when there is one) may have yielded since; its own schedule points count.
        send_after_yield = send_after_yield_of(stream) if just_yielded else None
        if send_after_yield is not None:
            await send_after_yield(response)
        else:
            await stream.send_all(response)
        return Accepted(ws_request, selection, trailing_data, compression, match.pattern, state)

    def _check(
        self, request: Request, match: WebSocketMatch, remote: object
    ) -> tuple[HandshakeRequest, Selection, WebSocketRequest]:
        """Validate a WebSocket request (RFC 6455 §4.2.1), its origin, and choose its
        subprotocol's handler (§4.2.2).

        Raises:
            InvalidHandshake: the refusal, with its status.
        """
        handshake = validate_request(request)
        self._check_origin(handshake.origin)
        selection = match.registry.select(handshake.subprotocols)
        ws_request = WebSocketRequest.from_handshake(
            handshake, path_params=match.path_params, remote=remote
        )
        return handshake, selection, ws_request

    def _resolve(self, request: Request, path: str) -> WebSocketMatch | HttpMatch:
        if isinstance(self.app, Router):
            return self.app.resolve(request, path)
        return WebSocketMatch(self.app, {}, ANY_ROUTE)

    def _check_origin(self, origin: str | None) -> None:
        """The Origin allow-list (RFC 6455 §10.2): 403 for an origin not listed."""
        origins = self.options.origins
        if origins is not None and origin not in origins:
            raise InvalidHandshake(f"origin {origin!r} is not allowed", 403)

    async def _decide(
        self, request: WebSocketRequest, subprotocol: str | None
    ) -> Accept | Reject | None:
        hook = self.options.on_handshake
        assert hook is not None
        try:
            return await hook(request, subprotocol)
        except Exception:
            logger.exception("the handshake hook raised on %s; answering 500", request.path)
            raise InvalidHandshake("internal server error", 500) from None

    def _negotiate_compression(
        self, offers: Sequence[str]
    ) -> tuple[str | None, PerMessageDeflate | None]:
        """permessage-deflate (RFC 7692) when the policy allows and the client offers it."""
        policy = self.options.compression
        if policy is None or not offers:
            return None, None
        negotiated = negotiate_server(offers, policy)
        if negotiated is None:
            return None, None
        header, parameters = negotiated
        return header, PerMessageDeflate.from_policy(parameters, policy, is_client=False)


async def _send_quietly(stream: trio.abc.Stream, data: bytes) -> None:
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await stream.send_all(data)


async def _serve_http(
    stream: trio.abc.Stream,
    request: Request,
    trailing_data: bytes,
    match: HttpMatch,
    path: str,
    query: dict[str, list[str]],
    remote: object,
    max_body_size: int | None,
) -> UpgradeTo | Rejected | Unserved:
    """Answer a plain HTTP route, then close (``Connection: close``); or return the
    handler's decision to upgrade after all.

    The body (``Content-Length`` bytes, at most ``Limits.max_http_body_size``) is read
    before the handler runs; a body too large, chunked or of a bad length is refused
    (413, 411, 400), and what the client still sends is discarded for a moment so that
    the close does not reset the connection before the client reads the refusal.
    """
    try:
        length = request_body_length(request.headers, max_body_size)
    except InvalidHandshake as exc:
        refused = await _refuse(stream, remote, exc, request)
        await discard_unread_body(stream)
        return refused
    body = await receive_body(stream, length, trailing_data)
    if body is None:
        logger.debug("%s closed the connection before sending the request body", remote)
        return Unserved.FAILED
    http_request = HttpRequest(
        request.method, path, query, request.headers, match.path_params, remote, body
    )
    try:
        response = await match.handler(http_request)
    except Exception:
        logger.exception("HTTP handler for %s raised; answering 500", path)
        response_bytes = reject_response(500, "internal server error")
    else:
        if isinstance(response, UpgradeTo):
            return response
        headers = [*response.headers, ("Connection", "close")]
        response_bytes = serialize_response(response.status, headers, response.body)
        if request.method == "HEAD":
            # Same headers (Content-Length included), no body (RFC 9110 §9.3.2).
            response_bytes = response_bytes[: len(response_bytes) - len(response.body)]
    await _send_quietly(stream, response_bytes)
    return Unserved.ANSWERED


async def _refuse(
    stream: trio.abc.Stream,
    remote: object,
    exc: InvalidHandshake,
    request: Request | None,
) -> Rejected:
    logger.info("rejected handshake from %s: %d %s", remote, exc.http_status, exc.reason)
    await _send_quietly(stream, reject_error(exc))
    return Rejected(exc, request)
