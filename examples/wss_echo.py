"""The echo server over TLS (wss://).

    python examples/wss_echo.py 8443 --certfile cert.pem --keyfile key.pem

Without certificate files it makes a throwaway certificate for 127.0.0.1 and localhost with
``trustme`` (a test dependency), and writes its CA to ``wss-ca.pem`` so that clients can trust
it: ``trioproto.client_ssl_context("wss-ca.pem")``. The command-line equivalent:
``python -m trioproto serve examples.wss_echo:registry --certfile F --keyfile F``.
"""

import argparse
import ssl
import tempfile
from pathlib import Path

import trioproto

registry = trioproto.Registry()


@registry.handler("echo")
@registry.handler(None)
async def echo(ws: trioproto.WebSocket) -> None:
    async for message in ws.inbound:
        await ws.outbound.send(message)


def throwaway_context(ca_path: str) -> ssl.SSLContext:
    """A server context with a fresh certificate from a throwaway CA written to ``ca_path``."""
    try:
        import trustme
    except ImportError:
        raise SystemExit("pass --certfile/--keyfile, or install trustme") from None
    authority = trustme.CA()
    authority.cert_pem.write_to_path(ca_path)
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    with tempfile.TemporaryDirectory() as directory:
        pem = Path(directory, "server.pem")
        certificate.private_key_and_cert_chain_pem.write_to_path(str(pem))
        return trioproto.server_ssl_context(str(pem))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int, nargs="?", default=8443)
    parser.add_argument("--certfile")
    parser.add_argument("--keyfile")
    arguments = parser.parse_args()
    if arguments.certfile:
        context = trioproto.server_ssl_context(arguments.certfile, arguments.keyfile)
    else:
        context = throwaway_context("wss-ca.pem")
    trioproto.run(registry, arguments.port, ssl_context=context)
