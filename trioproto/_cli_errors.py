"""One line for each error a person can fix, instead of a traceback.

A failure inside ``trio.run`` arrives wrapped in exception groups (one per nursery it crossed);
:func:`single_error` finds the one error inside, and :func:`describe` says what it means.
No trio import.
"""

from __future__ import annotations

import errno
import socket
import ssl

__all__ = ["describe", "single_error"]

_OS_ERRORS = {
    errno.EADDRINUSE: "address already in use (is another server running there?)",
    errno.EADDRNOTAVAIL: "address not available on this machine",
    errno.EACCES: "permission denied",
    errno.ECONNREFUSED: "connection refused (is the server running?)",
}


def single_error(exc: BaseException) -> BaseException:
    """The one error inside nested exception groups, or ``exc`` itself if there are several."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def describe(exc: BaseException) -> str | None:
    """A one-line explanation of ``exc``, or ``None`` if it is not an error of the
    environment (a bug, whose traceback is the useful report)."""
    exc = single_error(exc)
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    if isinstance(cause, ssl.SSLCertVerificationError):
        # trio reports a failed TLS handshake as BrokenResourceError from the ssl error.
        return (
            "the server's certificate is not trusted "
            f"({cause.verify_message}); pass --cafile with the CA that signed it"
        )
    if isinstance(cause, ssl.SSLError) and not isinstance(exc, OSError):
        if cause.reason == "WRONG_VERSION_NUMBER":  # the answer was not TLS at all
            return "TLS handshake failed: the server does not speak TLS (ws://, not wss://?)"
        return f"TLS handshake failed: {cause.reason or cause}"
    if isinstance(exc, socket.gaierror):
        return f"unknown host: {exc.strerror}"
    if isinstance(exc, OSError):
        if exc.errno is None and isinstance(exc.__cause__, BaseExceptionGroup):
            # trio.open_tcp_stream: "all attempts to connect to H:P failed", the reasons
            # (one per address tried) in the cause; the first says enough.
            first = _first_os_error(exc.__cause__)
            if first is not None:
                return f"{exc}: {describe(first)}"
        if exc.filename:  # the file's own error text says more than the errno's
            return f"{exc.filename}: {exc.strerror or exc}"
        return _OS_ERRORS.get(exc.errno or 0) or exc.strerror or str(exc)
    if isinstance(exc, ValueError):
        return str(exc)
    return None


def _first_os_error(group: BaseExceptionGroup[BaseException]) -> OSError | None:
    for inner in group.exceptions:
        if isinstance(inner, BaseExceptionGroup):
            found = _first_os_error(inner)
            if found is not None:
                return found
        elif isinstance(inner, OSError):
            return inner
    return None
