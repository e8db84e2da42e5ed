"""The HTTP grammar rules the handshake, extension and subprotocol parsers share (RFC 9110 §5.6).

One definition of each rule, as h11's ``_abnf.py`` does, so the request line, header names,
extension parameters and subprotocol names all accept exactly the same tokens.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["TOKEN", "TOKEN_BYTES", "is_token"]

#: ``token = 1*tchar`` (RFC 9110 §5.6.2, formerly RFC 7230 §3.2.6), as a regex source.
TOKEN: Final = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
#: :data:`TOKEN` for patterns over bytes.
TOKEN_BYTES: Final = TOKEN.encode("ascii")

_TOKEN_RE: Final = re.compile(TOKEN)


def is_token(text: str) -> bool:
    """Whether ``text`` is exactly one token (RFC 9110 §5.6.2)."""
    return _TOKEN_RE.fullmatch(text) is not None
