"""Derive fuzz inputs from valid seeds, deterministically from a seed (AFL-style mutations).

Each input applies one to four mutations to a seed: flip a bit, set a byte to an interesting
value, insert random bytes or a token, delete, duplicate or truncate a range, splice in part of
another seed, or rewrite a frame's length field (the 7-bit, 16-bit and 64-bit forms).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence

__all__ = ["Mutator"]

_INTERESTING = [0x00, 0x01, 0x7D, 0x7E, 0x7F, 0x80, 0x81, 0x88, 0x89, 0x8A, 0xC1, 0xFE, 0xFF]
_LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, 2**20, 2**20 + 1, 2**63 - 1, 2**63, 2**64 - 1]


class Mutator:
    """Yields mutated inputs.

    Args:
        seeds: valid inputs to start from.
        tokens: byte strings worth inserting (keywords of the format).
        seed: the random seed; equal seeds give equal inputs.
    """

    def __init__(self, seeds: Sequence[bytes], tokens: Sequence[bytes], seed: int) -> None:
        self.seeds = list(seeds)
        self.tokens = list(tokens) or [b"\x00"]
        self.random = random.Random(seed)
        self._mutations: list[Callable[[bytearray], None]] = [
            self._flip_bit,
            self._interesting_byte,
            self._insert_random,
            self._insert_token,
            self._delete,
            self._duplicate,
            self._truncate,
            self._splice,
            self._rewrite_length,
        ]

    def inputs(self, count: int) -> Iterator[bytes]:
        """``count`` mutated inputs."""
        for _ in range(count):
            yield self.mutate_next()

    def mutate_next(self) -> bytes:
        """One mutated input from a seed chosen at random."""
        return self.mutate(self.random.choice(self.seeds))

    def mutate(self, seed: bytes) -> bytes:
        data = bytearray(seed)
        for _ in range(self.random.randint(1, 4)):
            self.random.choice(self._mutations)(data)
        return bytes(data)

    def _position(self, data: bytearray) -> int:
        return self.random.randrange(len(data) + 1)

    def _flip_bit(self, data: bytearray) -> None:
        if data:
            index = self.random.randrange(len(data))
            data[index] ^= 1 << self.random.randrange(8)

    def _interesting_byte(self, data: bytearray) -> None:
        if data:
            data[self.random.randrange(min(len(data), 16))] = self.random.choice(_INTERESTING)

    def _insert_random(self, data: bytearray) -> None:
        position = self._position(data)
        data[position:position] = self.random.randbytes(self.random.randint(1, 8))

    def _insert_token(self, data: bytearray) -> None:
        position = self._position(data)
        data[position:position] = self.random.choice(self.tokens)

    def _delete(self, data: bytearray) -> None:
        start = self._position(data)
        del data[start : start + self.random.randint(1, 16)]

    def _duplicate(self, data: bytearray) -> None:
        start = self._position(data)
        piece = data[start : start + self.random.randint(1, 64)]
        position = self._position(data)
        data[position:position] = piece

    def _truncate(self, data: bytearray) -> None:
        del data[self._position(data) :]

    def _splice(self, data: bytearray) -> None:
        other = self.random.choice(self.seeds)
        start = self.random.randrange(len(other) + 1)
        piece = other[start : start + self.random.randint(1, 256)]
        position = self._position(data)
        data[position:position] = piece

    def _rewrite_length(self, data: bytearray) -> None:
        """Give the frame header at offset 0 another length (RFC 6455 §5.2's three forms)."""
        if len(data) < 2:
            return
        length = self.random.choice(_LENGTHS)
        masked = data[1] & 0x80
        old = data[1] & 0x7F
        old_size = {126: 2, 127: 8}.get(old, 0)
        if length < 126:
            field = bytes([masked | length])
        elif length < 2**16:
            field = bytes([masked | 126]) + length.to_bytes(2, "big")
        else:
            field = bytes([masked | 127]) + length.to_bytes(8, "big")
        data[1 : 2 + old_size] = field
