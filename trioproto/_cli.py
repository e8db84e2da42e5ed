"""``python -m trioproto``: argparse wiring only.

::

    python -m trioproto serve MODULE:ATTR [--host H] [--port P] [--unix PATH]
            [--certfile F --keyfile F] [--max-message-size BYTES] [--compression deflate|none]
            [--max-send-buffer BYTES] [--backpressure close|drop_oldest|drop_newest]
            [--metrics PATH] [--access-log] [--workers N|auto [--graceful-timeout S]]
            [--backplane redis://HOST:PORT/DB]
            [--log-level LEVEL]
    python -m trioproto connect URL [--subprotocol P] [--no-compression]
"""

from __future__ import annotations

import argparse
import functools
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from ._backplane import BackplaneUnavailable
from ._config import DEFAULT_LIMITS, Limits
from ._options import DEFAULT_COMPRESSION
from ._registry import Registry
from ._routing import Router
from ._run import run

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "serve":
        return _serve(parser, args)
    if args.command == "connect":
        from ._interactive import run_interactive_client

        return run_interactive_client(
            args.url, subprotocols=args.subprotocol, compression=not args.no_compression
        )
    parser.print_help()  # pragma: no cover - argparse requires a command
    return 2  # pragma: no cover


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trioproto", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a registry of WebSocket handlers")
    serve.add_argument("target", metavar="MODULE:ATTR", help="e.g. examples.echo:registry")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="TCP port (default 8000; 0: any)")
    serve.add_argument("--unix", metavar="PATH", help="listen on a Unix socket instead of TCP")
    serve.add_argument("--certfile", help="PEM certificate chain: serve wss://")
    serve.add_argument("--keyfile", help="PEM private key for --certfile")
    serve.add_argument(
        "--max-message-size",
        type=_size,
        default=DEFAULT_LIMITS.max_message_size,
        metavar="BYTES",
        help="largest message accepted (default 1048576; 0: unlimited)",
    )
    serve.add_argument(
        "--compression",
        choices=("deflate", "none"),
        default="deflate",
        help="permessage-deflate (RFC 7692), on by default",
    )
    serve.add_argument(
        "--max-send-buffer",
        type=_size,
        default=DEFAULT_LIMITS.max_send_buffer,
        metavar="BYTES",
        help="hub messages queued for one slow client (default 1048576; 0: unlimited)",
    )
    serve.add_argument(
        "--backpressure",
        choices=("close", "drop_oldest", "drop_newest"),
        default="close",
        help="past --max-send-buffer: close the client with 1013 (default), or drop messages",
    )
    serve.add_argument(
        "--metrics",
        metavar="PATH",
        help="serve Prometheus metrics on GET PATH, e.g. /metrics (needs prometheus-client)",
    )
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="log each connection when it ends, and each rejected handshake (trioproto.access)",
    )
    serve.add_argument(
        "--workers",
        type=_workers,
        metavar="N|auto",
        help="run N worker processes on the same port (auto: one per CPU)",
    )
    serve.add_argument(
        "--graceful-timeout",
        type=_positive_seconds,
        default=10.0,
        metavar="S",
        help="with --workers: seconds each worker gets to close its clients (default 10)",
    )
    serve.add_argument(
        "--backplane",
        metavar="URL",
        help="Redis/Valkey URL: hub messages reach every process and machine using it",
    )
    serve.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    connect = commands.add_parser(
        "connect", help="interactive client: send each line typed, print what arrives"
    )
    connect.add_argument("url", help="ws://host:port/path or wss://...")
    connect.add_argument(
        "--subprotocol", action="append", default=[], help="offer this subprotocol (repeatable)"
    )
    connect.add_argument("--no-compression", action="store_true", help="don't offer deflate")
    connect.add_argument(
        "--log-level", default="warning", choices=("debug", "info", "warning", "error")
    )
    return parser


def _size(text: str) -> int | None:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value or None


def _workers(text: str) -> int:
    if text == "auto":
        return os.cpu_count() or 1
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def load_target(target: str) -> Registry | Router:
    """Import ``MODULE:ATTR`` (from the current directory too): a registry or a router.

    Raises:
        ValueError: the target is malformed or does not name a registry.
    """
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"expected MODULE:ATTR, got {target!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    try:
        value = getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(value, Registry | Router):
        raise ValueError(  # noqa: TRY004 - reported to the user as a usage error
            f"{target} is a {type(value).__name__}, not a trioproto.Registry or Router"
        )
    return value


def _serve(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    try:
        app = load_target(args.target)
    except (ImportError, ValueError) as exc:
        parser.error(str(exc))
    if args.metrics is not None:
        if args.workers is not None:
            parser.error("--metrics and --workers: each worker would report only its own figures")
        app = _with_metrics(parser, app, args.metrics)
    if (args.certfile is None) != (args.keyfile is None):
        parser.error("--certfile and --keyfile go together")
    ssl_factory = None
    if args.certfile is not None:
        from ._tls import server_ssl_context

        ssl_factory = functools.partial(server_ssl_context, args.certfile, args.keyfile)
        ssl_factory()  # a bad certificate is reported here, not in every worker
    limits = Limits(max_message_size=args.max_message_size, max_send_buffer=args.max_send_buffer)
    compression = DEFAULT_COMPRESSION if args.compression == "deflate" else None
    try:
        run(
            app,
            args.port,
            host=args.host,
            unix_path=args.unix,
            ssl_context=ssl_factory,
            limits=limits,
            compression=compression,
            backpressure=args.backpressure,
            access_log=args.access_log,
            workers=args.workers,
            graceful_timeout=args.graceful_timeout,
            log_level=args.log_level if args.workers is not None else None,
            backplane=args.backplane,
        )
    except (ValueError, ModuleNotFoundError, BackplaneUnavailable) as exc:
        # A bad --backplane URL, coredis missing, or Redis unreachable at start-up.
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _with_metrics(parser: argparse.ArgumentParser, app: Registry | Router, path: str) -> Router:
    if not path.startswith("/"):
        parser.error(f"--metrics takes a path starting with '/', got {path!r}")
    try:
        from .metrics import add_metrics_route
    except ImportError:
        parser.error(
            "--metrics needs prometheus-client: python -m pip install 'trioproto[metrics]'"
        )
    return add_metrics_route(app, path)
