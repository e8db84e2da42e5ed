"""The ``Sec-WebSocket-Extensions`` header grammar (RFC 6455 §9.1).

::

    extension-list = 1#extension
    extension      = extension-token *( ";" extension-param )
    extension-param = token [ "=" (token | quoted-string) ]

"When using the quoted-string syntax variant, the value after quoted-string unescaping MUST
conform to the 'token' ABNF." Syntax errors raise :class:`InvalidHandshake` (400).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from .._exceptions import InvalidHandshake
from ._abnf import TOKEN, is_token

__all__ = ["Extension", "parse_extensions", "serialize_extension"]

#: One offer: the extension name and its parameters in order (value ``None`` when absent).
Extension = tuple[str, list[tuple[str, str | None]]]

_QUOTED = r'"(?:[^"\\]|\\.)*"'
_PARAM_RE = re.compile(rf"\s*({TOKEN})\s*(?:=\s*({TOKEN}|{_QUOTED}))?\s*")


def parse_extensions(values: Iterable[str]) -> list[Extension]:
    """Parse every ``Sec-WebSocket-Extensions`` header value into offers, in order.

    Raises:
        InvalidHandshake: 400, the header does not follow RFC 6455 §9.1.
    """
    offers: list[Extension] = []
    for value in values:
        for element in _split_outside_quotes(value, ","):
            if not element.strip():
                continue  # RFC 9110 §5.6.1: empty list elements are ignored
            parts = _split_outside_quotes(element, ";")
            name = parts[0].strip()
            if not is_token(name):
                raise InvalidHandshake(f"invalid extension name {name[:40]!r}", 400)
            params: list[tuple[str, str | None]] = []
            for part in parts[1:]:
                match = _PARAM_RE.fullmatch(part)
                if match is None:
                    raise InvalidHandshake(f"invalid extension parameter {part[:40]!r}", 400)
                param, raw = match.groups()
                value_text: str | None = raw
                if raw is not None and raw.startswith('"'):
                    value_text = re.sub(r"\\(.)", r"\1", raw[1:-1])
                    if not is_token(value_text):
                        raise InvalidHandshake(
                            f"quoted extension parameter value {raw[:40]!r} is not a token", 400
                        )
                params.append((param, value_text))
            offers.append((name, params))
    return offers


def serialize_extension(name: str, params: Sequence[tuple[str, str | None]]) -> str:
    """One extension as a header element, e.g. ``permessage-deflate; client_max_window_bits``."""
    parts = [name]
    for param, value in params:
        parts.append(param if value is None else f"{param}={value}")
    return "; ".join(parts)


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if quoted:
        raise InvalidHandshake("unterminated quoted string in Sec-WebSocket-Extensions", 400)
    parts.append("".join(current))
    return parts
