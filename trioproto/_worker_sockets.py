"""Listening sockets for worker processes: one TCP port bound by each with ``SO_REUSEPORT``,
or one Unix socket bound once and shared.

Linux spreads incoming connections only across *separate* sockets bound to the same port (each
has its own accept queue); a socket shared by several processes has one queue, and whichever
process wakes first takes the connection. So each worker binds and listens on its own sockets.

The supervisor *reserves* the port first with sockets that are bound but never listen: port 0
is resolved once for every worker, and the port stays ours while a worker restarts. A socket
that does not listen receives no connections.

A Unix socket has no such balancing: the supervisor binds it once and every worker accepts
from the same queue.
"""

from __future__ import annotations

import os
import socket
import stat

import trio

__all__ = ["listen_reuse_port", "listen_unix", "reserve_port", "to_trio_listeners"]

#: trio's own default backlog for open_tcp_listeners (the kernel caps it at somaxconn).
_DEFAULT_BACKLOG = 0xFFFF


def _passive_addresses(host: str | None, port: int) -> list[tuple[int, tuple[object, ...]]]:
    """``(family, sockaddr)`` for every address ``host`` names (every interface if ``None``)."""
    infos = socket.getaddrinfo(
        host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
    )
    seen: list[tuple[int, tuple[object, ...]]] = []
    for family, _type, _proto, _name, address in infos:
        if (family, address) not in seen:
            seen.append((family, address))
    return seen


def _bound_socket(family: int, address: tuple[object, ...]) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def _bind_all(host: str | None, port: int) -> tuple[int, list[socket.socket]]:
    sockets: list[socket.socket] = []
    try:
        for family, address in _passive_addresses(host, port):
            if port != 0:
                address = (address[0], port, *address[2:])
            sock = _bound_socket(family, address)
            sockets.append(sock)
            port = sock.getsockname()[1]  # port 0: every other address gets the same one
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return port, sockets


def reserve_port(host: str | None, port: int) -> tuple[int, list[socket.socket]]:
    """Bind (without listening) every address of ``host`` on ``port``; return the port.

    Keep the returned sockets open while workers run: they hold the port (port 0 resolved once)
    and fail early, with the usual ``OSError``, when another program already listens there.
    """
    return _bind_all(host, port)


def listen_reuse_port(host: str | None, port: int, backlog: int | None) -> list[socket.socket]:
    """A worker's own listening sockets on ``port`` (every address of ``host``)."""
    _port, sockets = _bind_all(host, port)
    for sock in sockets:
        sock.listen(backlog if backlog is not None else _DEFAULT_BACKLOG)
    return sockets


def to_trio_listeners(sockets: list[socket.socket]) -> list[trio.SocketListener]:
    """Wrap listening stdlib sockets for :func:`trioproto.serve` (inside ``trio.run``)."""
    return [trio.SocketListener(trio.socket.from_stdlib_socket(sock)) for sock in sockets]


def listen_unix(path: str, backlog: int | None) -> socket.socket:
    """A listening Unix socket at ``path`` (replacing a stale socket file, never another file)."""
    try:
        stale = stat.S_ISSOCK(os.stat(path).st_mode)
    except FileNotFoundError:
        stale = False
    if stale:
        os.unlink(path)  # left behind by a previous run
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(backlog if backlog is not None else _DEFAULT_BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock
