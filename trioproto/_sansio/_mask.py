"""Payload masking (RFC 6455 §5.3): ``masked[i] = payload[i] ^ key[i % 4]``.

The pure-Python version XORs two big integers, so the loop over bytes runs in C inside
``int`` arithmetic: no per-byte Python loop. An optional C accelerator
(``trioproto._sansio._speedups``) replaces it when it was compiled at install time.
"""

from __future__ import annotations

__all__ = ["apply_mask", "apply_mask_python", "rotate_mask"]


def apply_mask_python(data: bytes | bytearray | memoryview, mask: bytes | bytearray) -> bytes:
    """Mask or unmask ``data`` with the 4-byte ``mask`` (the operation is its own inverse)."""
    length = len(data)
    if not length:
        return b""
    repeated = (mask * ((length + 3) >> 2))[:length]
    value = int.from_bytes(data, "little") ^ int.from_bytes(repeated, "little")
    return value.to_bytes(length, "little")


def rotate_mask(mask: bytes, offset: int) -> bytes:
    """The masking key to use for payload bytes that start ``offset`` bytes into the frame."""
    offset &= 3
    return mask[offset:] + mask[:offset] if offset else mask


try:  # pragma: no cover - which branch runs depends on the build
    from ._speedups import apply_mask
except ImportError:  # pragma: no cover
    apply_mask = apply_mask_python
