"""Failing fuzz inputs on disk: ``DIR/KIND-HASH.bin`` with the reason in ``KIND-HASH.txt``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

__all__ = ["load", "save"]


def save(directory: Path, kind: str, data: bytes, reason: str) -> Path:
    """Save one failing input; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{kind}-{hashlib.sha256(data).hexdigest()[:16]}.bin"
    path.write_bytes(data)
    path.with_suffix(".txt").write_text(reason + "\n", encoding="utf-8")
    return path


def load(paths: list[Path]) -> Iterator[tuple[Path, str, bytes]]:
    """``(path, kind, data)`` for each saved input under ``paths`` (files or directories)."""
    for path in paths:
        files = sorted(path.glob("*.bin")) if path.is_dir() else [path]
        for file in files:
            yield file, file.name.split("-", 1)[0], file.read_bytes()
