"""trioproto: WebSocket for trio, built on structured concurrency.

This module only re-exports the public names defined in private modules.
"""

from ._backplane import Backplane as Backplane
from ._backplane import BackplaneStatistics as BackplaneStatistics
from ._backplane import BackplaneUnavailable as BackplaneUnavailable
from ._backplane import Envelope as Envelope
from ._backplane import Kind as Kind
from ._channels import MessageReceiveChannel as MessageReceiveChannel
from ._channels import MessageSendChannel as MessageSendChannel
from ._channels import WebSocketStream as WebSocketStream
from ._client import connect_websocket as connect_websocket
from ._client import open_websocket as open_websocket
from ._closed import ConnectionClosed as ConnectionClosed
from ._config import DEFAULT_LIMITS as DEFAULT_LIMITS
from ._config import DEFAULT_TIMEOUTS as DEFAULT_TIMEOUTS
from ._config import Limits as Limits
from ._config import Timeouts as Timeouts
from ._connection import WebSocket as WebSocket
from ._connection_handler import ConnectionHandler as ConnectionHandler
from ._connection_handler import ServerStatistics as ServerStatistics
from ._exceptions import HandshakeError as HandshakeError
from ._exceptions import HandshakeRejected as HandshakeRejected
from ._exceptions import InvalidHandshake as InvalidHandshake
from ._exceptions import LocalProtocolError as LocalProtocolError
from ._exceptions import PayloadTooBig as PayloadTooBig
from ._exceptions import ProtocolError as ProtocolError
from ._exceptions import RemoteProtocolError as RemoteProtocolError
from ._exceptions import TrioprotoError as TrioprotoError
from ._hub import Hub as Hub
from ._hub_core import HubStatistics as HubStatistics
from ._options import DEFAULT_COMPRESSION as DEFAULT_COMPRESSION
from ._options import HandshakeHook as HandshakeHook
from ._options import ServerOptions as ServerOptions
from ._outbox import BackpressurePolicy as BackpressurePolicy
from ._redis_backplane import RedisBackplane as RedisBackplane
from ._redis_backplane import RedisBackplaneStatistics as RedisBackplaneStatistics
from ._registry import Activation as Activation
from ._registry import Handler as Handler
from ._registry import HandlerEntry as HandlerEntry
from ._registry import Registry as Registry
from ._registry import Selection as Selection
from ._request import Accept as Accept
from ._request import Reject as Reject
from ._request import WebSocketRequest as WebSocketRequest
from ._routing import HttpHandler as HttpHandler
from ._routing import HttpMatch as HttpMatch
from ._routing import HttpRequest as HttpRequest
from ._routing import HttpResponse as HttpResponse
from ._routing import Router as Router
from ._routing import UpgradeTo as UpgradeTo
from ._routing import WebSocketMatch as WebSocketMatch
from ._run import run as run
from ._run import serve_until_signal as serve_until_signal
from ._sansio._deflate import DeflatePolicy as DeflatePolicy
from ._sansio._handshake import HandshakeRequest as HandshakeRequest
from ._sansio._http import Headers as Headers
from ._sansio._http import Request as Request
from ._server import App as App
from ._server import Listener as Listener
from ._server import WebSocketServer as WebSocketServer
from ._server import current_server as current_server
from ._server import serve as serve
from ._statistics import ConnectionStatistics as ConnectionStatistics
from ._tls import client_ssl_context as client_ssl_context
from ._tls import server_ssl_context as server_ssl_context
from ._upgrade import parse_request_head as parse_request_head
from ._upgrade import upgrade_stream as upgrade_stream
from ._url import WebSocketURL as WebSocketURL
from ._version import __version__ as __version__

__all__ = [
    "DEFAULT_COMPRESSION",
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUTS",
    "Accept",
    "Activation",
    "App",
    "Backplane",
    "BackplaneStatistics",
    "BackplaneUnavailable",
    "BackpressurePolicy",
    "ConnectionClosed",
    "ConnectionHandler",
    "ConnectionStatistics",
    "DeflatePolicy",
    "Envelope",
    "Handler",
    "HandlerEntry",
    "HandshakeError",
    "HandshakeHook",
    "HandshakeRejected",
    "HandshakeRequest",
    "Headers",
    "HttpHandler",
    "HttpMatch",
    "HttpRequest",
    "HttpResponse",
    "Hub",
    "HubStatistics",
    "InvalidHandshake",
    "Kind",
    "Limits",
    "Listener",
    "LocalProtocolError",
    "MessageReceiveChannel",
    "MessageSendChannel",
    "PayloadTooBig",
    "ProtocolError",
    "RedisBackplane",
    "RedisBackplaneStatistics",
    "Registry",
    "Reject",
    "RemoteProtocolError",
    "Request",
    "Router",
    "Selection",
    "ServerOptions",
    "ServerStatistics",
    "Timeouts",
    "TrioprotoError",
    "UpgradeTo",
    "WebSocket",
    "WebSocketMatch",
    "WebSocketRequest",
    "WebSocketServer",
    "WebSocketStream",
    "WebSocketURL",
    "client_ssl_context",
    "connect_websocket",
    "current_server",
    "open_websocket",
    "parse_request_head",
    "run",
    "serve",
    "serve_until_signal",
    "server_ssl_context",
    "upgrade_stream",
]

# Public objects say they come from "trioproto", not from the private module that defines them
# (trio's fixup_module_metadata), so reprs, docs and pickles show the public path.
for _name in __all__:
    _object = globals()[_name]
    if getattr(_object, "__module__", "").startswith("trioproto.") and hasattr(
        _object, "__qualname__"
    ):
        _object.__module__ = "trioproto"
del _name, _object
