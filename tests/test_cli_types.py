"""The command line's value types: ports, sizes with units, log levels."""

from __future__ import annotations

import argparse
import logging

import pytest

from trioproto._cli_types import byte_size, log_level, port


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("8000", 8000), ("65535", 65535)])
def test_port(text: str, value: int) -> None:
    assert port(text) == value


@pytest.mark.parametrize("text", ["65536", "-1", "99999", "eighty", ""])
def test_port_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="port"):
        port(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1048576", 1048576),
        ("0", None),
        ("512", 512),
        ("512B", 512),
        ("1K", 1000),
        ("1kb", 1000),
        ("1M", 1_000_000),
        ("1.5M", 1_500_000),
        ("2G", 2_000_000_000),
        ("1KiB", 1024),
        ("1MiB", 1048576),
        ("16mib", 16 * 1048576),
        ("1GiB", 1024**3),
        (" 4 MiB ", 4 * 1048576),
    ],
)
def test_byte_size(text: str, value: int | None) -> None:
    assert byte_size(text) == value


@pytest.mark.parametrize("text", ["-1", "1X", "MiB", "1 2", "1e6", ""])
def test_byte_size_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not a size"):
        byte_size(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [("debug", logging.DEBUG), ("INFO", logging.INFO), ("Warning", logging.WARNING)],
)
def test_log_level(text: str, value: int) -> None:
    assert log_level(text) == value


def test_log_level_rejects() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="choose from debug, info"):
        log_level("verbose")
