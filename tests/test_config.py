"""Limits and Timeouts: ``None`` disables exactly the limits documented as optional, and bad
values are refused with a message naming the field."""

from __future__ import annotations

import pytest

from trioproto import Limits, Timeouts


@pytest.mark.parametrize(
    "name",
    [
        "max_message_size",
        "max_frame_size",
        "max_connections",
        "max_send_buffer",
        "max_http_body_size",
    ],
)
def test_optional_limits_accept_none_and_refuse_zero(name: str) -> None:
    assert getattr(Limits(**{name: None}), name) is None
    with pytest.raises(ValueError, match=f"{name} must be positive or None"):
        Limits(**{name: 0})


@pytest.mark.parametrize(
    "name",
    ["max_queued_messages", "max_request_head_size", "max_header_lines", "max_request_line_size"],
)
@pytest.mark.parametrize("value", [None, 0, -1])
def test_required_limits_refuse_none_and_non_positive(name: str, value: int | None) -> None:
    with pytest.raises(ValueError, match=f"{name} must be a positive int"):
        Limits(**{name: value})


@pytest.mark.parametrize(
    "name", ["handshake", "close", "ping_interval", "ping_timeout", "activation", "shutdown"]
)
def test_every_timeout_accepts_none_and_refuses_zero(name: str) -> None:
    assert getattr(Timeouts(**{name: None}), name) is None
    with pytest.raises(ValueError, match=f"{name} must be positive or None"):
        Timeouts(**{name: 0})
