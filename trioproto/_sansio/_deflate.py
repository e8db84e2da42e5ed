"""permessage-deflate (RFC 7692): negotiation, and a compressor that never over-inflates.

Negotiation (RFC 7692 §5, §7.1): the server takes the *first* ``permessage-deflate`` offer it
can accept and declines the others; an offer with an unknown, repeated or out-of-range
parameter is declined (§5.1), never an error. A malformed header is a 400 (RFC 6455 §9.1).

Window sizes and memory per connection, zlib's documented cost::

    compressor    (1 << (window_bits + 2)) + (1 << (mem_level + 9))   bytes
    decompressor  (1 << window_bits) + about 7 KiB                     bytes

==========================  ============  ==============  ====================
server window / memLevel     compressor    decompressor    total, approximately
==========================  ============  ==============  ====================
15 / 8 (zlib defaults)       256 KiB       39 KiB (15)     295 KiB
12 / 5 (our default)         32 KiB        11 KiB (12)     43 KiB
10 / 4                       12 KiB        8 KiB (10)      20 KiB
no_context_takeover          freed between messages for that direction
==========================  ============  ==============  ====================

The defaults follow websockets (server and client windows of 12 bits, memLevel 5): for the
small JSON messages WebSocket apps exchange, ratios barely change from 15 bits while memory
drops about 7x. The decompressor uses the window the *client* may use: 12 when the client
offered ``client_max_window_bits`` (we answer with 12), else 15 as RFC 7692 §7.1.2.2 requires.

zlib cannot compress with an 8-bit raw window (it silently needs 9), so an offer that demands
``server_max_window_bits=8`` is declined rather than broken; a client limited to 8 bits is fine,
since a 9-bit inflater decodes its stream.

Inflation is capped (design rule 4): :meth:`PerMessageDeflate.decompress` asks zlib for at
most one byte more than the message may still grow, so a small frame that would inflate to
gigabytes fails with 1009 after allocating about the limit.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from .._exceptions import InvalidHandshake, PayloadTooBig, RemoteProtocolError
from ._extensions import parse_extensions, serialize_extension

__all__ = [
    "CompressionSettings",
    "DeflateParameters",
    "DeflatePolicy",
    "PerMessageDeflate",
    "accept_client",
    "client_offer",
    "compress_alone",
    "negotiate_server",
]

NAME = "permessage-deflate"
_TAIL = b"\x00\x00\xff\xff"

#: zlib's (wbits, level, memLevel) for one side's compressor.
CompressionSettings = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class DeflateParameters:
    """The negotiated parameters of one connection (RFC 7692 §7.1)."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15


@dataclass(frozen=True, slots=True)
class DeflatePolicy:
    """How a server (or client) uses permessage-deflate.

    Attributes:
        server_max_window_bits: the largest window the server compresses with (9-15).
        client_max_window_bits: the window asked of clients that accept a limit (9-15).
        server_no_context_takeover: reset the server's compressor after each message.
        client_no_context_takeover: ask clients to reset theirs after each message.
        compress_level: zlib level, 1 (fast) to 9 (small).
        mem_level: zlib memLevel, 1 (small) to 9 (fast).
        min_size: messages shorter than this are sent uncompressed (compressing a few bytes
            costs CPU and usually adds bytes).
    """

    server_max_window_bits: int = 12
    client_max_window_bits: int = 12
    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    compress_level: int = 6
    mem_level: int = 5
    min_size: int = 32

    def __post_init__(self) -> None:
        for name in ("server_max_window_bits", "client_max_window_bits"):
            if not 9 <= getattr(self, name) <= 15:
                raise ValueError(f"{name} must be between 9 and 15")
        if not 1 <= self.mem_level <= 9 or not 0 <= self.compress_level <= 9:
            raise ValueError("mem_level must be 1-9 and compress_level 0-9")


class _Declined(Exception):
    """An offer this side cannot accept (RFC 7692 §5.1); the next one is tried."""


def _window_bits(value: str | None) -> int:
    if value is None or not value.isdigit() or value.startswith("0") or not 8 <= int(value) <= 15:
        raise _Declined
    return int(value)


def _parse_offer(params: Sequence[tuple[str, str | None]]) -> dict[str, str | None]:
    seen: dict[str, str | None] = {}
    for name, value in params:
        if name in seen:
            raise _Declined  # "multiple extension parameters with the same name"
        seen[name] = value
    return seen


def negotiate_server(
    offers: Sequence[str], policy: DeflatePolicy
) -> tuple[str, DeflateParameters] | None:
    """Choose a ``permessage-deflate`` offer from the raw header values (RFC 7692 §5, §7.1).

    Returns:
        The response header value and the parameters, or ``None`` when every offer is
        declined. (A side that does not compress has no policy: ``compression=None``.)

    Raises:
        InvalidHandshake: 400, the header is malformed.
    """
    for name, params in parse_extensions(offers):
        if name != NAME:
            continue
        try:
            return _accept_offer(_parse_offer(params), policy)
        except _Declined:
            continue
    return None


def _accept_offer(
    offer: dict[str, str | None], policy: DeflatePolicy
) -> tuple[str, DeflateParameters]:
    response: list[tuple[str, str | None]] = []
    server_no_takeover = policy.server_no_context_takeover
    client_no_takeover = policy.client_no_context_takeover
    server_bits = policy.server_max_window_bits
    client_bits = 15
    for name, value in offer.items():
        if name == "server_no_context_takeover":
            if value is not None:
                raise _Declined
            server_no_takeover = True
        elif name == "client_no_context_takeover":
            if value is not None:
                raise _Declined
            client_no_takeover = True
        elif name == "server_max_window_bits":
            requested = _window_bits(value)
            if requested < 9:
                raise _Declined  # zlib cannot compress within an 8-bit window
            server_bits = min(server_bits, requested)
        elif name == "client_max_window_bits":
            client_bits = policy.client_max_window_bits
            if value is not None:
                client_bits = min(client_bits, _window_bits(value))
        else:
            raise _Declined  # "a parameter not defined for use in an offer"
    if server_no_takeover:
        response.append(("server_no_context_takeover", None))
    if client_no_takeover:
        response.append(("client_no_context_takeover", None))
    if server_bits < 15 or "server_max_window_bits" in offer:
        response.append(("server_max_window_bits", str(server_bits)))
    if "client_max_window_bits" in offer:
        response.append(("client_max_window_bits", str(client_bits)))
    parameters = DeflateParameters(
        server_no_context_takeover=server_no_takeover,
        client_no_context_takeover=client_no_takeover,
        server_max_window_bits=server_bits,
        client_max_window_bits=client_bits,
    )
    return serialize_extension(NAME, response), parameters


def client_offer(policy: DeflatePolicy) -> str:
    """The ``Sec-WebSocket-Extensions`` value a client sends (RFC 7692 §7.1)."""
    params: list[tuple[str, str | None]] = [("client_max_window_bits", None)]
    if policy.server_max_window_bits < 15:
        params.append(("server_max_window_bits", str(policy.server_max_window_bits)))
    if policy.client_no_context_takeover:
        params.append(("client_no_context_takeover", None))
    if policy.server_no_context_takeover:
        params.append(("server_no_context_takeover", None))
    return serialize_extension(NAME, params)


def accept_client(response_values: Sequence[str], policy: DeflatePolicy) -> DeflateParameters:
    """Validate the server's answer to :func:`client_offer` (RFC 7692 §5, §7.1).

    Raises:
        InvalidHandshake: not exactly one permessage-deflate, another extension, or a
            parameter that is unknown, repeated, invalid or contradicts the offer.
    """
    extensions = parse_extensions(response_values)
    if len(extensions) != 1 or extensions[0][0] != NAME:
        raise InvalidHandshake("the server answered with extensions that were not offered")
    try:
        answer = _parse_offer(extensions[0][1])
    except _Declined:
        raise InvalidHandshake("repeated permessage-deflate parameter") from None
    server_bits, client_bits = 15, 15
    for name, value in answer.items():
        try:
            if name in ("server_no_context_takeover", "client_no_context_takeover"):
                if value is not None:
                    raise _Declined
            elif name == "server_max_window_bits":
                server_bits = _window_bits(value)
                if server_bits > policy.server_max_window_bits:
                    raise _Declined
            elif name == "client_max_window_bits":
                client_bits = _window_bits(value)
            else:
                raise _Declined
        except _Declined:
            raise InvalidHandshake(f"invalid permessage-deflate parameter {name!r}") from None
    if policy.server_no_context_takeover and "server_no_context_takeover" not in answer:
        raise InvalidHandshake("the server ignored server_no_context_takeover")
    return DeflateParameters(
        server_no_context_takeover="server_no_context_takeover" in answer,
        client_no_context_takeover="client_no_context_takeover" in answer
        or policy.client_no_context_takeover,
        server_max_window_bits=server_bits,
        client_max_window_bits=client_bits,
    )


class PerMessageDeflate:
    """Compresses outgoing and inflates incoming messages of one connection (RFC 7692 §7).

    Args:
        params: the negotiated parameters.
        is_client: which side this is; decides whose window and takeover rules apply.
        min_size: messages shorter than this are not compressed.
        compress_level: zlib level.
        mem_level: zlib memLevel.
    """

    # Slots: a server holds one of these per compressed connection.
    __slots__ = (
        "_compress_wbits",
        "_compressor",
        "_decompress_wbits",
        "_decompressor",
        "_level",
        "_local_reset",
        "_mem_level",
        "_remote_reset",
        "min_size",
        "params",
    )

    def __init__(
        self,
        params: DeflateParameters,
        *,
        is_client: bool,
        min_size: int = 32,
        compress_level: int = 6,
        mem_level: int = 5,
    ) -> None:
        if is_client:
            local_bits, remote_bits = params.client_max_window_bits, params.server_max_window_bits
            self._local_reset = params.client_no_context_takeover
            self._remote_reset = params.server_no_context_takeover
        else:
            local_bits, remote_bits = params.server_max_window_bits, params.client_max_window_bits
            self._local_reset = params.server_no_context_takeover
            self._remote_reset = params.client_no_context_takeover
        self.params = params
        self.min_size = min_size
        # A window of 8 bits cannot be requested from zlib for raw deflate; 9 decodes it.
        self._compress_wbits = -max(local_bits, 9)
        self._decompress_wbits = -max(remote_bits, 9)
        self._level = compress_level
        self._mem_level = mem_level
        self._compressor = self._new_compressor()
        self._decompressor = zlib.decompressobj(wbits=self._decompress_wbits)

    @classmethod
    def from_policy(
        cls, params: DeflateParameters, policy: DeflatePolicy, *, is_client: bool
    ) -> PerMessageDeflate:
        """The compressor for negotiated ``params``, with ``policy``'s zlib settings."""
        return cls(
            params,
            is_client=is_client,
            min_size=policy.min_size,
            compress_level=policy.compress_level,
            mem_level=policy.mem_level,
        )

    def _new_compressor(self) -> zlib._Compress:
        return zlib.compressobj(self._level, zlib.DEFLATED, self._compress_wbits, self._mem_level)

    def should_compress(self, size: int) -> bool:
        """Whether a message of ``size`` bytes is worth compressing."""
        return size >= self.min_size

    @property
    def shared_settings(self) -> CompressionSettings | None:
        """This side's compressor settings when every message is compressed on its own (no
        context takeover on our side, RFC 7692 §7.1.1); ``None`` while the context is taken
        over. Connections with equal settings compress a message to identical bytes, so a
        fan-out can compress it once for all of them (:func:`compress_alone`)."""
        if not self._local_reset:
            return None
        return (self._compress_wbits, self._level, self._mem_level)

    def compress(self, data: bytes) -> bytes:
        """Deflate a whole message: sync flush, minus the 4-byte tail (RFC 7692 §7.2.1)."""
        compressor = self._compressor
        output = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if self._local_reset:
            self._compressor = self._new_compressor()
        # Z_SYNC_FLUSH always ends with the empty stored block 00 00 ff ff.
        return output[:-4]

    def decompress(self, data: bytes, fin: bool, max_length: int | None) -> bytes:
        """Inflate the next piece of a message (RFC 7692 §7.2.2).

        Args:
            data: the next compressed bytes of the message (any split).
            fin: this piece ends the message: the 4-byte tail is appended first.
            max_length: how many more bytes the message may inflate to; ``None`` = no limit.

        Raises:
            PayloadTooBig: the message would inflate past ``max_length`` (1009).
            RemoteProtocolError: the data is not a valid deflate stream (1007).
        """
        output = self._inflate(data, max_length)
        if fin:
            # The tail is inflated on its own rather than appended: no copy of the payload.
            if max_length is not None:
                max_length -= len(output)
            output += self._inflate(_TAIL, max_length)  # usually b"": no copy then
            if self._remote_reset:
                self._decompressor = zlib.decompressobj(wbits=self._decompress_wbits)
        return output

    def _inflate(self, data: bytes, max_length: int | None) -> bytes:
        decompressor = self._decompressor
        try:
            if max_length is None:
                return decompressor.decompress(data)
            # Ask for one byte more than allowed: getting it proves the message too big, and
            # zlib allocates no more output than it was asked for.
            output = decompressor.decompress(data, max_length + 1)
        except zlib.error as exc:
            raise RemoteProtocolError(f"invalid compressed data: {exc}", 1007) from None
        if len(output) > max_length or decompressor.unconsumed_tail:
            raise PayloadTooBig(
                f"compressed message inflates past the limit of {max_length} more bytes"
            )
        return output


def compress_alone(data: bytes, settings: CompressionSettings) -> bytes:
    """Deflate one message with a fresh compressor, as a connection without context takeover
    does (RFC 7692 §7.2.1: sync flush, minus the 4-byte tail)."""
    wbits, level, mem_level = settings
    compressor = zlib.compressobj(level, zlib.DEFLATED, wbits, mem_level)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
