"""The command line, ``python -m trioproto`` (or ``trioproto``): argparse wiring only.

Usage errors (a bad option, a target that does not exist) exit with status 2, errors met
while running (a port in use, a certificate that cannot be read, a user module that fails to
import) with status 1; each is one line on standard error, never a traceback (except for a
bug in the user's module, shown with ``--log-level debug``).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from ._backplane import BackplaneUnavailable
from ._cli_errors import describe
from ._cli_types import LOG_LEVELS, byte_size, log_level, port
from ._config import DEFAULT_LIMITS, Limits
from ._listeners import DEFAULT_HOST
from ._options import DEFAULT_COMPRESSION
from ._registry import Registry
from ._routing import Router
from ._run import run
from ._url import unix_url
from ._version import __version__

__all__ = ["TargetImportError", "load_target", "main"]

_DESCRIPTION = """\
Serve WebSocket handlers written with trioproto, or talk to any WebSocket server.

  serve MODULE:ATTR   serve the trioproto.Registry or Router named ATTR in MODULE
  connect URL         interactive client: each line typed is sent, each message printed
"""

_EPILOG = """\
examples:
  python -m trioproto serve examples.echo:registry --port 8000
  python -m trioproto serve myapp:router --host 0.0.0.0 --certfile cert.pem --keyfile key.pem
  python -m trioproto connect ws://127.0.0.1:8000/ --subprotocol echo

Run 'python -m trioproto COMMAND --help' for the options of a command.
"""

_SERVE_EPILOG = """\
MODULE is imported from the current directory (or PYTHONPATH), e.g. examples.echo:registry
for examples/echo.py. The server prints 'serving on URL' once listening and stops on
Ctrl-C or SIGTERM: every client gets close code 1001 and the handlers finish.
Sizes take K, M, G (powers of 1000) or KiB, MiB, GiB (powers of 1024): 16MiB, 1M.
"""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (not the whole usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class TargetImportError(Exception):
    """The user's module was found but importing it raised (a runtime error, not a usage
    error): the message names the module and the error; ``__cause__`` is the error."""


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "serve":
        return _serve(args.parser, args)
    from ._interactive import run_interactive_client

    return run_interactive_client(
        args.url,
        subprotocols=args.subprotocol,
        compression=not args.no_compression,
        cafile=args.cafile,
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m trioproto",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"trioproto {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve a registry or router of WebSocket handlers",
        description="Serve the trioproto.Registry or Router named MODULE:ATTR.",
        epilog=_SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.set_defaults(parser=serve)
    serve.add_argument("target", metavar="MODULE:ATTR", help="e.g. examples.echo:registry")
    serve.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})"
    )
    serve.add_argument(
        "--port", type=port, default=8000, help="TCP port, 0-65535 (default 8000; 0: any free)"
    )
    serve.add_argument(
        "--unix",
        metavar="PATH",
        help="listen on this Unix socket instead of TCP (a stale socket file is replaced)",
    )
    serve.add_argument("--certfile", metavar="FILE", help="PEM certificate chain: serve wss://")
    serve.add_argument("--keyfile", metavar="FILE", help="PEM private key for --certfile")
    serve.add_argument(
        "--max-message-size",
        type=byte_size,
        default=DEFAULT_LIMITS.max_message_size,
        metavar="SIZE",
        help="largest message accepted, e.g. 16MiB (default 1MiB; 0: unlimited)",
    )
    serve.add_argument(
        "--compression",
        choices=("deflate", "none"),
        default="deflate",
        help="permessage-deflate (RFC 7692), on by default",
    )
    serve.add_argument(
        "--max-send-buffer",
        type=byte_size,
        default=DEFAULT_LIMITS.max_send_buffer,
        metavar="SIZE",
        help="hub messages queued for one slow client (default 1MiB; 0: unlimited)",
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
    _add_log_level(serve, "info")
    connect = commands.add_parser(
        "connect",
        help="interactive client: send each line typed, print what arrives",
        description="Connect to URL (ws://, wss:// or ws+unix://), send each line read from "
        "standard input as a text message and print each message received.",
    )
    connect.add_argument(
        "url", metavar="URL", help="ws://host:port/path, wss://..., or ws+unix:///path.sock"
    )
    connect.add_argument(
        "--subprotocol",
        action="append",
        default=[],
        metavar="NAME",
        help="offer this subprotocol (repeatable, in preference order)",
    )
    connect.add_argument(
        "--no-compression", action="store_true", help="don't offer permessage-deflate"
    )
    connect.add_argument(
        "--cafile", metavar="FILE", help="trust the CA certificates in this PEM file (wss://)"
    )
    _add_log_level(connect, "warning")
    return parser


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


def _add_log_level(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--log-level",
        type=log_level,
        default=default,
        metavar="LEVEL",
        help=f"{', '.join(LOG_LEVELS)}, in any case (default {default})",
    )


def load_target(target: str) -> Registry | Router:
    """Import ``MODULE:ATTR`` (from the current directory too): a registry or a router.

    Raises:
        ValueError: the target is malformed, its module does not exist, or the attribute is
            missing or not a registry (a usage error).
        TargetImportError: the module exists but importing it raised.
    """
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        hint = target.removesuffix(".py").replace("/", ".").replace("\\", ".").strip(".:")
        raise ValueError(
            f"expected MODULE:ATTR, got {target!r}; for instance {hint}:registry (a module "
            "name, not a file name, then the name of the Registry or Router in it)"
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and _is_module_or_parent(exc.name, module_name):
            raise ValueError(
                f"no module named {exc.name!r} (run from the directory that contains it, "
                "or add that directory to PYTHONPATH)"
            ) from None
        raise TargetImportError(f"importing {module_name} failed: {_one_line(exc)}") from exc
    except Exception as exc:
        raise TargetImportError(f"importing {module_name} failed: {_one_line(exc)}") from exc
    try:
        value = getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(value, Registry | Router):
        raise ValueError(  # noqa: TRY004 - reported to the user as a usage error
            f"{target} is a {type(value).__name__}, not a trioproto.Registry or Router"
        )
    return value


def _is_module_or_parent(missing: str, module_name: str) -> bool:
    return module_name == missing or module_name.startswith(missing + ".")


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _serve(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if (args.certfile is None) != (args.keyfile is None):
        parser.error("--certfile and --keyfile go together")
    if args.unix is not None:
        try:
            unix_url(args.unix)
        except ValueError as exc:
            parser.error(f"--unix: {exc}")
    try:
        app = load_target(args.target)
    except ValueError as exc:
        parser.error(str(exc))
    except TargetImportError as exc:
        if logging.getLogger("trioproto").isEnabledFor(logging.DEBUG):
            traceback.print_exception(exc.__cause__ or exc)
        return _fail(f"{exc} (--log-level debug shows the traceback)")
    if args.metrics is not None:
        app = _with_metrics(parser, app, args.metrics)
    if len(app) == 0:
        print(
            f"warning: {args.target} is empty: every request will be refused",
            file=sys.stderr,
        )
    ssl_factory = None
    if args.certfile is not None:
        from ._tls import server_ssl_context

        ssl_factory = functools.partial(server_ssl_context, args.certfile, args.keyfile)
        try:
            ssl_factory()  # a bad certificate is reported here, once, not in every worker
        except (OSError, ValueError) as exc:
            return _fail(f"cannot load the certificate: {describe(exc)}")
    # run() ends the program with one line for a port in use, an unknown host, ...
    try:
        run(
            app,
            args.port,
            host=args.host,
            unix_path=args.unix,
            ssl_context=ssl_factory,
            limits=Limits(
                max_message_size=args.max_message_size, max_send_buffer=args.max_send_buffer
            ),
            compression=DEFAULT_COMPRESSION if args.compression == "deflate" else None,
            backpressure=args.backpressure,
            access_log=args.access_log,
            workers=args.workers,
            graceful_timeout=args.graceful_timeout,
            log_level=logging.getLevelName(args.log_level) if args.workers is not None else None,
            backplane=args.backplane,
        )
    except (ValueError, ModuleNotFoundError, BackplaneUnavailable) as exc:
        # A bad --backplane URL, coredis missing, or Redis unreachable at start-up.
        return _fail(str(exc))
    return 0


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


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
