"""TLS helpers for wss:// (RFC 6455 §4.1: the TLS handshake precedes the opening handshake).

Contexts default to TLS 1.2 or newer, advertise ALPN ``http/1.1`` (the protocol a WebSocket
upgrade rides on, RFC 7301) and refuse TLS 1.2 renegotiation.
"""

from __future__ import annotations

import ssl

from ._tls_transport import refuse_renegotiation

__all__ = ["client_ssl_context", "server_ssl_context"]

_ALPN = ["http/1.1"]


def server_ssl_context(
    certfile: str,
    keyfile: str | None = None,
    *,
    password: str | None = None,
    minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
) -> ssl.SSLContext:
    """A server context from PEM files: TLS >= 1.2, ALPN ``http/1.1``, no compression, no
    renegotiation.

    Args:
        certfile: the certificate chain, leaf first.
        keyfile: the private key, if not in ``certfile``.
        password: the key's passphrase, if encrypted.
        minimum_version: the oldest TLS version accepted.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = minimum_version
    context.load_cert_chain(certfile, keyfile, password)
    context.set_alpn_protocols(_ALPN)
    return refuse_renegotiation(context)


def client_ssl_context(
    cafile: str | None = None,
    *,
    minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
) -> ssl.SSLContext:
    """A client context that verifies the server (system CAs, or ``cafile``), TLS >= 1.2, no
    renegotiation."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    context.minimum_version = minimum_version
    context.set_alpn_protocols(_ALPN)
    return refuse_renegotiation(context)
