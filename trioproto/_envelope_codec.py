"""The wire form of a backplane :class:`~trioproto._backplane.Envelope`: compact and versioned.

Version 1, all integers big-endian::

    offset  size  field
    0       1     version (1)
    1       1     kind: 0 publish, 1 broadcast, 2 send_to
    2       1     flags: bit 0 set for a text message
    3       1     length of the origin node id (UTF-8 bytes)
    4       2     length of the target (UTF-8 bytes)
    6       ...   origin, target, then the payload (the rest)

A node that meets a version it does not know rejects the envelope (and counts it) rather than
guessing: nodes of different trioproto versions may share one broker during a rolling upgrade.
"""

from __future__ import annotations

import struct

from ._backplane import Envelope, Kind

__all__ = ["VERSION", "UnsupportedEnvelope", "decode_envelope", "encode_envelope"]

VERSION = 1

_HEADER = struct.Struct("!BBBBH")
_KIND_CODES = {Kind.PUBLISH: 0, Kind.BROADCAST: 1, Kind.SEND_TO: 2}
_KINDS = {code: kind for kind, code in _KIND_CODES.items()}
_TEXT = 0x01


class UnsupportedEnvelope(ValueError):
    """Bytes that are not a version-1 envelope (another version, truncated, unknown kind)."""


def encode_envelope(envelope: Envelope) -> bytes:
    """The wire form of ``envelope``.

    Raises:
        ValueError: the origin is longer than 255 or the target than 65535 UTF-8 bytes.
    """
    origin = envelope.origin.encode()
    target = envelope.target.encode()
    if len(origin) > 0xFF or len(target) > 0xFFFF:
        raise ValueError("envelope origin or target too long for the wire format")
    flags = _TEXT if envelope.text else 0
    header = _HEADER.pack(VERSION, _KIND_CODES[envelope.kind], flags, len(origin), len(target))
    return b"".join((header, origin, target, envelope.payload))


def decode_envelope(data: bytes) -> Envelope:
    """The envelope ``data`` carries.

    Raises:
        UnsupportedEnvelope: another version, a truncated envelope or an unknown kind.
    """
    if len(data) < _HEADER.size:
        raise UnsupportedEnvelope(f"truncated envelope ({len(data)} bytes)")
    version, kind_code, flags, origin_length, target_length = _HEADER.unpack_from(data)
    if version != VERSION:
        raise UnsupportedEnvelope(f"envelope version {version} (this node reads {VERSION})")
    kind = _KINDS.get(kind_code)
    if kind is None:
        raise UnsupportedEnvelope(f"unknown envelope kind {kind_code}")
    start = _HEADER.size
    payload_start = start + origin_length + target_length
    if len(data) < payload_start:
        raise UnsupportedEnvelope("truncated envelope header fields")
    try:
        origin = data[start : start + origin_length].decode()
        target = data[start + origin_length : payload_start].decode()
    except UnicodeDecodeError:
        raise UnsupportedEnvelope("envelope origin or target is not UTF-8") from None
    return Envelope(kind, target, bytes(data[payload_start:]), bool(flags & _TEXT), origin)
