"""Listening on a Unix socket path without ever taking one from a live server.

A path left behind by a server that died is a *stale* socket: nothing accepts on it, and
connecting fails with ``ECONNREFUSED``. Only such a socket is replaced. A path where a server
still accepts connections is refused with ``EADDRINUSE``, as a busy TCP port is, and a path
that is not a socket at all (a regular file, a directory) is never unlinked.
"""

from __future__ import annotations

import errno
import os
import socket as stdlib_socket
import stat

import trio

__all__ = ["open_unix_listener"]


async def open_unix_listener(path: str, backlog: int | None = None) -> trio.SocketListener:
    """Bind and listen on ``path``, replacing a stale socket file left by a previous run.

    Raises:
        OSError: ``EADDRINUSE`` when a server is listening on ``path``; ``EEXIST`` when
            ``path`` exists and is not a socket; or whatever ``bind`` reports.
    """
    if await _is_stale_socket(path):
        os.unlink(path)
    sock = trio.socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
    try:
        await sock.bind(path)
        sock.listen(backlog if backlog is not None else 0xFFFF)
    except BaseException:
        sock.close()
        raise
    return trio.SocketListener(sock)


async def _is_stale_socket(path: str) -> bool:
    """Whether ``path`` is a socket file nobody listens on (``False`` if it does not exist).

    Raises:
        OSError: the path is a live socket (``EADDRINUSE``) or not a socket (``EEXIST``).
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False
    if not stat.S_ISSOCK(mode):
        raise OSError(errno.EEXIST, "the path exists and is not a socket", path)
    probe = trio.socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
    try:
        await probe.connect(path)
    except ConnectionRefusedError:
        return True  # nothing accepts there: left behind by a server that is gone
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, "a server is already listening on this socket", path)
