"""Argument parsing and TLS set-up shared by the peer servers."""

from __future__ import annotations

import argparse
import ssl

MAX_SIZE = 16 * 1024 * 1024


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--certfile")
    return parser.parse_args()


def server_context(certfile: str | None) -> ssl.SSLContext | None:
    if certfile is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile)
    return context


def ready(port: int) -> None:
    print(f"ready {port}", flush=True)
