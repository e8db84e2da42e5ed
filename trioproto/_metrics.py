"""Prometheus metrics, read from the server's own counters when ``/metrics`` is scraped.

Theory of operation
-------------------
Nothing here runs while the server serves: the server keeps plain integer totals
(:mod:`trioproto._counters`, once per connection or handshake) and every connection counts its
own messages (:meth:`WebSocket.statistics`). A scrape asks each *source*, a function returning
metric families, for its figures at that instant; :func:`server_metrics` is the source for a
server. Another subsystem adds its figures by adding one source function, nothing else.

The metrics endpoint is an HTTP route on the server's own port; it describes the server that
answers the scrape (:func:`~trioproto._server.current_server`), so one router can be served by
several servers and each answers with its own figures. In a worker process
(``--workers N``) it answers for every worker, each sample labelled ``worker="<index>"``:
its own figures live, the others' from their snapshots (:mod:`trioproto._worker_metrics`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ._connection_handler import ServerStatistics
from ._hub_metrics import hub_metrics
from ._registry import Registry
from ._routing import HttpRequest, HttpResponse, Router
from ._server import App, WebSocketServer, current_server
from ._worker_context import WorkerContext, current_worker
from ._worker_metrics import AllWorkers, read_other_snapshots, share_snapshots

__all__ = [
    "DEFAULT_METRICS_PATH",
    "MetricSource",
    "MetricsEndpoint",
    "ServerCollector",
    "add_metrics_route",
    "server_metrics",
]

#: Where ``--metrics`` puts the endpoint unless told otherwise (Prometheus' convention).
DEFAULT_METRICS_PATH = "/metrics"

#: A source of figures: returns metric families describing this instant.
MetricSource = Callable[[], Iterable[Metric]]

#: Close frames carry no code when empty; RFC 6455 §7.4.1 reserves 1005 for "no code present".
_NO_CODE = 1005

_CONNECTION_LABELS = ("route", "subprotocol")


def server_metrics(server: WebSocketServer) -> Iterator[Metric]:
    """The figures of ``server``: connections, handshakes, messages, bytes, close codes,
    handler failures, the hub, backpressure and the backplane, all named ``trioproto_*``."""
    counters = server.handler._counters
    statistics = server.statistics()  # once: it reads every open connection
    yield _by_route(
        GaugeMetricFamily(
            "trioproto_connections_open",
            "WebSocket connections open now, by route pattern and subprotocol.",
            labels=_CONNECTION_LABELS,
        ),
        counters.connections_open,
    )
    yield _by_route(
        CounterMetricFamily(
            "trioproto_connections",
            "WebSocket connections opened (past the opening handshake), by route and subprotocol.",
            labels=_CONNECTION_LABELS,
        ),
        counters.connections_opened,
    )

    handshakes = CounterMetricFamily(
        "trioproto_handshakes",
        "Opening handshakes by outcome (accepted, rejected, failed) and the HTTP status sent.",
        labels=("outcome", "status"),
    )
    handshakes.add_metric(("accepted", "101"), counters.total_connections)
    for status, count in sorted(counters.handshakes_rejected.items()):
        handshakes.add_metric(("rejected", str(status)), count)
    handshakes.add_metric(("failed", ""), counters.handshakes_failed)
    yield handshakes

    yield from _traffic(statistics)

    close_codes = CounterMetricFamily(
        "trioproto_close_codes",
        "Close frames by direction (sent, received) and code (1005: a frame without a code).",
        labels=("direction", "code"),
    )
    for code, count in sorted(counters.close_codes_sent.items(), key=_code_order):
        close_codes.add_metric(("sent", str(_NO_CODE if code is None else code)), count)
    for code, count in sorted(counters.close_codes_received.items()):
        close_codes.add_metric(("received", str(code)), count)
    yield close_codes

    yield CounterMetricFamily(
        "trioproto_handler_failures",
        "Handlers that raised; each connection was closed with 1011 and the error logged.",
        value=counters.handler_errors,
    )
    yield from hub_metrics(server, statistics)


def _traffic(statistics: ServerStatistics) -> Iterator[Metric]:
    """Messages and payload bytes, both directions, of every connection so far."""
    messages = CounterMetricFamily(
        "trioproto_messages",
        "Whole data messages by direction (received, sent).",
        labels=("direction",),
    )
    messages.add_metric(("received",), statistics.messages_received)
    messages.add_metric(("sent",), statistics.messages_sent)
    yield messages
    payload = CounterMetricFamily(
        "trioproto_message_bytes",
        "Payload bytes of data messages (uncompressed) by direction (received, sent).",
        labels=("direction",),
    )
    payload.add_metric(("received",), statistics.bytes_received)
    payload.add_metric(("sent",), statistics.bytes_sent)
    yield payload


def _by_route(
    family: GaugeMetricFamily | CounterMetricFamily, counts: Mapping[tuple[str, str], int]
) -> Metric:
    """``family`` with one sample per (route pattern, subprotocol), in a stable order."""
    for labels, count in sorted(counts.items()):
        family.add_metric(labels, count)
    return family


def _code_order(item: tuple[int | None, int]) -> int:
    return _NO_CODE if item[0] is None else item[0]


class ServerCollector(Collector):
    """A ``prometheus_client`` collector of one server's figures plus extra sources.

    Register it with your own registry to export a server through an exporter you already run::

        prometheus_client.REGISTRY.register(ServerCollector(server))

    Args:
        server: the server to describe; ``None``: the server answering the current request
            (what the metrics route uses).
        sources: more :data:`MetricSource` functions, asked at each scrape.
    """

    def __init__(
        self, server: WebSocketServer | None = None, *, sources: Sequence[MetricSource] = ()
    ) -> None:
        self._server = server
        self._sources = tuple(sources)

    def collect(self) -> Iterator[Metric]:
        """The figures at this instant (called by ``prometheus_client`` at each scrape)."""
        yield from server_metrics(self._server or current_server())
        for source in self._sources:
            yield from source()


class MetricsEndpoint:
    """The HTTP handler of the metrics route: the Prometheus text format of a
    :class:`ServerCollector`.

    An object rather than a closure so that an app with the route can be sent to worker
    processes; in a worker it answers for every worker (see :mod:`trioproto._worker_metrics`).

    Args:
        path: the route's path (names the workers' snapshots of this endpoint).
        sources: more :data:`MetricSource` functions, asked at each scrape.
    """

    def __init__(self, path: str, sources: Sequence[MetricSource] = ()) -> None:
        self.path = path
        self.sources = tuple(sources)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        """Answer a scrape with the figures at this instant."""
        collector: Collector = ServerCollector(sources=self.sources)
        worker = current_worker.get()
        if worker is not None:
            others = await read_other_snapshots(worker, self.path)
            collector = AllWorkers(collector, worker, others)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(collector)
        return HttpResponse(
            200, (("Content-Type", CONTENT_TYPE_LATEST),), generate_latest(registry)
        )

    async def run_in_worker(self, server: WebSocketServer, worker: WorkerContext) -> None:
        """Share ``server``'s figures with the other workers until the server stops."""
        collector = ServerCollector(server, sources=self.sources)
        await share_snapshots(collector.collect, worker, self.path)


def add_metrics_route(
    app: App, path: str = DEFAULT_METRICS_PATH, *, sources: Sequence[MetricSource] = ()
) -> Router:
    """Serve the Prometheus text format on ``GET path``, next to the WebSocket routes.

    With workers (``run(..., workers=N)``, ``--workers N``) a scrape reaches any one worker
    and answers for all of them, each sample labelled ``worker="<index>"``; ``sources`` must
    then be module-level functions (they go to the worker processes with the app).

    Args:
        app: a :class:`~trioproto.Router` (the route is added to it) or a
            :class:`~trioproto.Registry` (wrapped in a new router that still serves it on every
            other path).
        path: the endpoint's path.
        sources: more :data:`MetricSource` functions, asked at each scrape.

    Returns:
        The router to serve.
    """
    if isinstance(app, Registry):
        router = Router()
        router.websocket_default(app)
    else:
        router = app
    router.get(path)(MetricsEndpoint(path, sources))
    return router
