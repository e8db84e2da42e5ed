"""The opening handshake of RFC 6455 §4, server and client side, with no I/O.

Server rules (RFC 6455 §4.2.1, in the order they are checked):

=====================================================  ===========================================
the request ...                                        answer
=====================================================  ===========================================
is not GET                                             405, ``Allow: GET``
has no single ``Host``                                 400
has no ``websocket`` token in ``Upgrade``              426, ``Upgrade: websocket`` (RFC 9110)
has no ``upgrade`` token in ``Connection``             400
has no single ``Sec-WebSocket-Key`` of 16 bytes        400
  in base64
has ``Sec-WebSocket-Version`` other than ``13``        426, ``Sec-WebSocket-Version: 13`` (§4.4)
targets ``*`` or is otherwise not a path               400
offers a subprotocol that is not a token               400
=====================================================  ===========================================

Every rejection is a complete HTTP response with a short ``text/plain`` body saying why
(:func:`reject_error`). Subprotocol choice is a pure function given the server's list
(:func:`select_subprotocol`); extension offers are passed on raw for :mod:`._deflate`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from .._exceptions import InvalidHandshake
from ._abnf import is_plain_path, is_token
from ._http import Headers, Request, Response, serialize_request, serialize_response

__all__ = [
    "GUID",
    "HandshakeRequest",
    "accept_key",
    "accept_response",
    "client_handshake",
    "generate_key",
    "reject_error",
    "reject_response",
    "select_subprotocol",
    "serialize_handshake_request",
    "split_request_target",
    "validate_request",
    "validate_response",
]

#: "a Globally Unique Identifier (GUID, [RFC4122]) in string form" (RFC 6455 §1.3).
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a key: base64 of SHA-1 of key + GUID (RFC 6455 §4.2.2)."""
    return _accept_key_bytes(key).decode("ascii")


def _accept_key_bytes(key: str) -> bytes:
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return binascii.b2a_base64(digest, newline=False)  # base64.b64encode's own call


#: The usual 101 (no subprotocol, no extension, no extra header) up to its accept key, as
#: ``serialize_response`` writes it.
_PLAIN_101_HEAD = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: "
)


def generate_key(random_bytes: bytes) -> str:
    """A ``Sec-WebSocket-Key`` from 16 random bytes the caller drew (RFC 6455 §4.1)."""
    if len(random_bytes) != 16:
        raise ValueError("a WebSocket key is made of 16 random bytes")
    return base64.b64encode(random_bytes).decode("ascii")


@dataclass(frozen=True, slots=True)
class HandshakeRequest:
    """A validated opening handshake request.

    Attributes:
        request: the HTTP request head.
        path: the percent-decoded path of the target.
        raw_path: the path as sent.
        query: the decoded query parameters, each name with its values in order.
        raw_query: the query string as sent (without ``?``).
        key: the client's ``Sec-WebSocket-Key``.
        subprotocols: the offered subprotocols, in the client's order.
        extensions: the raw ``Sec-WebSocket-Extensions`` header values, in order.
        origin: the ``Origin`` header, if any (RFC 6455 §10.2).
        host: the ``Host`` header.
    """

    request: Request
    path: str
    raw_path: str
    query: dict[str, list[str]]
    raw_query: str
    key: str
    subprotocols: tuple[str, ...]
    extensions: tuple[str, ...]
    origin: str | None
    host: str

    @property
    def headers(self) -> Headers:
        """The request headers."""
        return self.request.headers


def _has_token(headers: Headers, name: str, token: str) -> bool:
    return any(element.lower() == token for element in headers.get_list(name))


def _is_valid_key(key: str) -> bool:
    try:
        return len(base64.b64decode(key.encode("ascii"), validate=True)) == 16
    except (binascii.Error, UnicodeEncodeError):
        return False


def validate_request(request: Request) -> HandshakeRequest:
    """Check an upgrade request against RFC 6455 §4.2.1.

    Raises:
        InvalidHandshake: with the status, reason and headers to answer (see the table above).
    """
    headers = request.headers
    if request.method != "GET":
        raise InvalidHandshake(
            f"method {request.method} cannot open a WebSocket: use GET", 405, (("Allow", "GET"),)
        )
    hosts = headers.get_all("Host")
    if len(hosts) != 1 or not hosts[0]:
        raise InvalidHandshake("a single Host header is required", 400)
    if not _has_token(headers, "Upgrade", "websocket"):
        raise InvalidHandshake(
            "this is a WebSocket endpoint: the request needs 'Upgrade: websocket'",
            426,
            (("Upgrade", "websocket"), ("Connection", "Upgrade")),
        )
    if not _has_token(headers, "Connection", "upgrade"):
        raise InvalidHandshake("the Connection header must contain 'Upgrade'", 400)
    keys = headers.get_all("Sec-WebSocket-Key")
    if len(keys) != 1 or not _is_valid_key(keys[0]):
        raise InvalidHandshake("Sec-WebSocket-Key must be one base64-encoded 16-byte value", 400)
    versions = headers.get_all("Sec-WebSocket-Version")
    if versions != ["13"]:
        raise InvalidHandshake(
            "unsupported WebSocket version: this server speaks version 13",
            426,
            (("Sec-WebSocket-Version", "13"),),
        )
    target = request.target
    if not target.startswith("/") and not target.lower().startswith(
        ("http://", "https://", "ws://", "wss://")  # absolute form (RFC 9112 §3.2.2)
    ):
        raise InvalidHandshake(f"invalid request target {target[:40]!r}", 400)
    raw_path, path, raw_query, query = split_request_target(target)
    subprotocols = tuple(headers.get_list("Sec-WebSocket-Protocol"))
    for name in subprotocols:
        if not is_token(name):
            raise InvalidHandshake(f"subprotocol {name[:40]!r} is not a token", 400)
    return HandshakeRequest(
        request=request,
        path=path,
        raw_path=raw_path,
        query=query,
        raw_query=raw_query,
        key=keys[0],
        subprotocols=subprotocols,
        extensions=tuple(headers.get_all("Sec-WebSocket-Extensions")),
        origin=headers.get("Origin"),
        host=hosts[0],
    )


def split_request_target(target: str) -> tuple[str, str, str, dict[str, list[str]]]:
    """A request target's raw path, percent-decoded path, raw query and decoded query (RFC 3986
    §3.3-§3.4). The absolute form (``http://host/path``) is reduced to its path (RFC 9112
    §3.2.2); an empty path is ``/``.

    Raises:
        InvalidHandshake: 400, the target cannot be split (an unbalanced ``[`` in the
            authority makes ``urlsplit`` raise "Invalid IPv6 URL").
    """
    if is_plain_path(target):  # nothing to split or decode: the usual case
        return target, target, "", {}
    try:
        parts = urllib.parse.urlsplit(target)
    except ValueError:
        raise InvalidHandshake(f"invalid request target {target[:40]!r}", 400) from None
    raw_path, raw_query = parts.path or "/", parts.query
    query = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
    return raw_path, urllib.parse.unquote(raw_path), raw_query, query


def select_subprotocol(offered: Sequence[str], supported: Sequence[str]) -> str | None:
    """The first of ``supported`` (server preference) that the client ``offered``."""
    for name in supported:
        if name in offered:
            return name
    return None


def accept_response(
    handshake: HandshakeRequest,
    *,
    subprotocol: str | None,
    extensions: str | None = None,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """The ``101 Switching Protocols`` answer (RFC 6455 §4.2.2 step 5)."""
    if subprotocol is None and extensions is None and not extra_headers:
        # The usual answer, from a template: its only variable part is base64, nothing to
        # check in it.
        return b"".join((_PLAIN_101_HEAD, _accept_key_bytes(handshake.key), b"\r\n\r\n"))
    headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept_key(handshake.key)),
    ]
    if subprotocol is not None:
        headers.append(("Sec-WebSocket-Protocol", subprotocol))
    if extensions is not None:
        headers.append(("Sec-WebSocket-Extensions", extensions))
    headers.extend(extra_headers)
    return serialize_response(101, headers)


def reject_response(status: int, body: str, headers: Sequence[tuple[str, str]] = ()) -> bytes:
    """An error answer with a short ``text/plain`` body; the connection is then closed.

    ``Connection: close`` announces the close (RFC 9112 §9.6) unless ``headers`` already
    carry a ``Connection`` field: a 426 that advertises ``Upgrade: websocket`` must list
    ``upgrade`` in ``Connection`` (RFC 9110 §7.8), and one answer saying both "upgrade" and
    "close" would contradict itself (RFC 9110 §7.6.1). The server closes either way; the
    ``Content-Length`` delimits the body.
    """
    names_connection = any(name.lower() == "connection" for name, _ in headers)
    fields = [*headers, ("Content-Type", "text/plain; charset=utf-8")]
    if not names_connection:
        fields.append(("Connection", "close"))
    return serialize_response(status, fields, (body.rstrip("\n") + "\n").encode("utf-8"))


def reject_error(exc: InvalidHandshake) -> bytes:
    """The answer an :class:`InvalidHandshake` calls for."""
    return reject_response(exc.http_status, exc.reason, exc.headers)


def client_handshake(
    *,
    host: str,
    resource: str,
    key: str,
    subprotocols: Sequence[str] = (),
    extensions: str | None = None,
    extra_headers: Sequence[tuple[str, str]] = (),
    origin: str | None = None,
) -> HandshakeRequest:
    """The client's opening handshake request (RFC 6455 §4.1), described the way a server
    describes the request it received (a client connection's ``ws.request``).

    Raises:
        ValueError: a subprotocol is not a token, or the resource is not a path.
    """
    for name in subprotocols:
        if not is_token(name):
            raise ValueError(f"subprotocol {name!r} is not a token")
    if not resource.startswith("/"):
        raise ValueError(f"the resource {resource!r} is not a path")
    headers = [
        ("Host", host),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
    ]
    if subprotocols:
        headers.append(("Sec-WebSocket-Protocol", ", ".join(subprotocols)))
    if extensions is not None:
        headers.append(("Sec-WebSocket-Extensions", extensions))
    if origin is not None:
        headers.append(("Origin", origin))
    headers.extend(extra_headers)
    path, _, query = resource.partition("?")
    return HandshakeRequest(
        request=Request("GET", resource, "HTTP/1.1", Headers(headers)),
        path=urllib.parse.unquote(path),
        raw_path=path,
        query=urllib.parse.parse_qs(query, keep_blank_values=True),
        raw_query=query,
        key=key,
        subprotocols=tuple(subprotocols),
        extensions=() if extensions is None else (extensions,),
        origin=origin,
        host=host,
    )


def serialize_handshake_request(handshake: HandshakeRequest) -> bytes:
    """The request head of :func:`client_handshake` as bytes for the wire.

    Raises:
        ValueError: a header name or value would inject a line.
    """
    head = handshake.request
    return serialize_request(head.method, head.target, head.headers.items())


def validate_response(
    response: Response,
    *,
    key: str,
    offered_subprotocols: Sequence[str],
    offered_extensions: bool,
) -> tuple[str | None, str | None]:
    """Check a ``101`` answer (RFC 6455 §4.1, client steps 1-6).

    Callers handle non-101 statuses first (see :class:`~trioproto.HandshakeRejected`).

    Returns:
        ``(subprotocol, extensions)``: the chosen subprotocol and the raw extensions value.

    Raises:
        InvalidHandshake: a missing or wrong header, a subprotocol that was not offered, or
            extensions that were not offered.
    """
    headers = response.headers
    if response.status_code != 101:
        raise InvalidHandshake(f"expected status 101, got {response.status_code}")
    if not _has_token(headers, "Upgrade", "websocket"):
        raise InvalidHandshake("the response's Upgrade header is not 'websocket'")
    if not _has_token(headers, "Connection", "upgrade"):
        raise InvalidHandshake("the response's Connection header lacks 'Upgrade'")
    if headers.get_all("Sec-WebSocket-Accept") != [accept_key(key)]:
        raise InvalidHandshake("Sec-WebSocket-Accept does not match the key sent")
    protocols = headers.get_list("Sec-WebSocket-Protocol")
    if len(protocols) > 1:
        raise InvalidHandshake("the server chose more than one subprotocol")
    subprotocol = protocols[0] if protocols else None
    if subprotocol is not None and subprotocol not in offered_subprotocols:
        raise InvalidHandshake(f"the server chose subprotocol {subprotocol!r}, never offered")
    extension_values = headers.get_all("Sec-WebSocket-Extensions")
    if extension_values and not offered_extensions:
        raise InvalidHandshake("the server accepted extensions that were not offered")
    return subprotocol, ", ".join(extension_values) if extension_values else None
