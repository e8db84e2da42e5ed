"""Value types for the command line's options: each turns one argument string into a value
or raises :class:`argparse.ArgumentTypeError` with a message a person can act on (argparse
then exits with status 2 and that message on one line).

No trio import.
"""

from __future__ import annotations

import argparse
import logging
import re

__all__ = ["LOG_LEVELS", "byte_size", "log_level", "port"]

#: The log levels the command line accepts, in any case.
LOG_LEVELS = ("debug", "info", "warning", "error")

# SI prefixes are powers of 1000, IEC prefixes powers of 1024 (IEC 80000-13): "1M" is
# 1,000,000 bytes and "1MiB" is 1,048,576. A bare number is bytes.
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*")


def port(text: str) -> int:
    """A TCP port, 0 to 65535 (0: the system picks a free one)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is out of range: use 0 to 65535")
    return value


def byte_size(text: str) -> int | None:
    """A size in bytes with an optional unit (``1048576``, ``1MiB``, ``512K``, ``1.5M``);
    0 means unlimited (``None``)."""
    match = _SIZE.fullmatch(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise argparse.ArgumentTypeError(
            f"not a size: {text!r} (a number of bytes, optionally with K, M, G, KiB, MiB or GiB)"
        )
    value = int(float(match.group(1)) * _UNITS[unit])
    return value or None


def log_level(text: str) -> int:
    """A log level name in any case: ``debug``, ``INFO``, ``Warning``, ``error``."""
    if text.lower() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"unknown log level {text!r}: choose from {', '.join(LOG_LEVELS)}"
        )
    return logging.getLevelNamesMapping()[text.upper()]
