"""The HTTP grammar rules the handshake, extension and subprotocol parsers share (RFC 9110 §5.6).

One definition of each rule, as h11's ``_abnf.py`` does, so the request line, header names,
extension parameters and subprotocol names all accept exactly the same tokens.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["TOKEN", "TOKEN_BYTES", "is_plain_path", "is_token"]

#: ``token = 1*tchar`` (RFC 9110 §5.6.2, formerly RFC 7230 §3.2.6), as a regex source.
TOKEN: Final = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
#: :data:`TOKEN` for patterns over bytes.
TOKEN_BYTES: Final = TOKEN.encode("ascii")

_TOKEN_RE: Final = re.compile(TOKEN)
#: ``path-absolute`` of unreserved characters, sub-delims, ":", "@" and "/" (RFC 3986 §3.3):
#: no percent-encoding, no query, no fragment, and not "//" (which would start an authority).
_PLAIN_PATH_RE: Final = re.compile(r"/(?!/)[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")


def is_token(text: str) -> bool:
    """Whether ``text`` is exactly one token (RFC 9110 §5.6.2)."""
    return _TOKEN_RE.fullmatch(text) is not None


def is_plain_path(target: str) -> bool:
    """Whether a request target is a path that needs no splitting or decoding (RFC 3986
    §3.3): it is then its own path, raw and decoded, with an empty query. The usual target."""
    return _PLAIN_PATH_RE.fullmatch(target) is not None
