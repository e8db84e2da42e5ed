"""TLS helpers for wss:// (RFC 6455 §4.1: the TLS handshake precedes the opening handshake).

Contexts default to TLS 1.2 or newer, advertise ALPN ``http/1.1`` (the protocol a WebSocket
upgrade rides on, RFC 7301) and refuse TLS 1.2 renegotiation.

Errors name the file at fault: :mod:`ssl` reports a missing file without its name and a file
that is not PEM as ``[SSL] PEM lib``, so each file is read and checked first.
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

    Raises:
        OSError: a file cannot be read (``filename`` names it).
        ValueError: a file is not PEM, holds no certificate or key, or the key does not match
            the certificate (the message names the files).
    """
    _check_pem(certfile, "CERTIFICATE", "certificate")
    if keyfile is not None:
        _check_pem(keyfile, "PRIVATE KEY", "private key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = minimum_version
    try:
        context.load_cert_chain(certfile, keyfile, password)
    except ssl.SSLError as exc:
        files = certfile if keyfile is None else f"{certfile} and {keyfile}"
        raise ValueError(f"cannot use the certificate and key in {files}: {_reason(exc)}") from None
    context.set_alpn_protocols(_ALPN)
    return refuse_renegotiation(context)


def client_ssl_context(
    cafile: str | None = None,
    *,
    minimum_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
) -> ssl.SSLContext:
    """A client context that verifies the server (system CAs, or ``cafile``), TLS >= 1.2, no
    renegotiation.

    Raises:
        OSError: ``cafile`` cannot be read.
        ValueError: ``cafile`` is not a PEM file of certificates.
    """
    if cafile is not None:
        _check_pem(cafile, "CERTIFICATE", "CA certificate")
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    context.minimum_version = minimum_version
    context.set_alpn_protocols(_ALPN)
    return refuse_renegotiation(context)


def _check_pem(path: str, label: str, what: str) -> None:
    """Read ``path`` and check that it holds a PEM block whose label contains ``label``
    (RFC 7468 §2: ``-----BEGIN <label>-----``).

    Raises:
        OSError: the file cannot be read (with ``filename`` set, which :mod:`ssl` omits).
        ValueError: the file is not PEM or holds no such block.
    """
    with open(path, "rb") as file:
        text = file.read()
    if b"-----BEGIN " not in text:
        raise ValueError(f"{path} is not a PEM file (expected a {what} in PEM format)")
    if not any(
        label.encode() in line for line in text.splitlines() if line.startswith(b"-----BEGIN ")
    ):
        raise ValueError(f"{path} holds no {what} (no '-----BEGIN ...{label}-----' line)")


def _reason(exc: ssl.SSLError) -> str:
    """The OpenSSL reason (``KEY_VALUES_MISMATCH`` -> ``key values mismatch``), or the text."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return reason.replace("_", " ").lower()
    return str(exc)
