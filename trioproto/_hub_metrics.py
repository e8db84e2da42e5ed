"""Prometheus families of a server's hub, send buffers and backplane, read at scrape time.

Every figure here is a counter the hub, the send buffers (:mod:`trioproto._outbox`) or the
backplane keep anyway: ordinary messages add nothing for these families, and only an event
that is rare by design (a drop, a policy close, a backplane failure) updates a counter of its
own. :func:`hub_metrics` is part of :func:`trioproto._metrics.server_metrics`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import get_args

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from ._backplane import BackplaneStatistics
from ._connection_handler import ServerStatistics
from ._outbox import OnLimit
from ._redis_backplane import RedisBackplaneStatistics
from ._server import WebSocketServer

__all__ = ["hub_metrics"]

#: The drop policies, each reported even at zero so that its series exists from the start.
_DROP_POLICIES = tuple(policy for policy in get_args(OnLimit) if policy != "close")


def hub_metrics(server: WebSocketServer, statistics: ServerStatistics) -> Iterator[Metric]:
    """The hub, backpressure and (with one) backplane figures of ``server``, whose
    ``statistics()`` at this instant are ``statistics``."""
    yield from _hub(server)
    yield from _backpressure(server, statistics)
    if statistics.backplane is not None:
        yield from _backplane(statistics.backplane)


def _hub(server: WebSocketServer) -> Iterator[Metric]:
    hub = server.hub.statistics()
    operations = CounterMetricFamily(
        "trioproto_hub_operations",
        "Hub calls on this node by operation (publish, broadcast, send_to).",
        labels=("operation",),
    )
    operations.add_metric(("publish",), hub.published)
    operations.add_metric(("broadcast",), hub.broadcasts)
    operations.add_metric(("send_to",), hub.sent_to)
    yield operations
    yield CounterMetricFamily(
        "trioproto_hub_remote_envelopes",
        "Hub messages from other nodes (through the backplane) delivered on this node.",
        value=hub.remote_envelopes,
    )
    yield CounterMetricFamily(
        "trioproto_hub_remote_failures",
        "Hub calls delivered locally but not to the other nodes (backplane unavailable).",
        value=hub.remote_failures,
    )
    yield GaugeMetricFamily(
        "trioproto_hub_topics", "Topics with at least one local subscriber.", value=hub.topics
    )
    yield GaugeMetricFamily(
        "trioproto_hub_subscriptions",
        "Subscriptions now: (connection, topic) pairs.",
        value=hub.subscriptions,
    )


def _backpressure(server: WebSocketServer, statistics: ServerStatistics) -> Iterator[Metric]:
    yield CounterMetricFamily(
        "trioproto_hub_deliveries",
        "Hub messages written or queued for local connections (one per connection reached).",
        value=statistics.hub_messages,
    )
    dropped = CounterMetricFamily(
        "trioproto_backpressure_dropped_messages",
        "Hub messages dropped at a full send buffer, by the policy that dropped them.",
        labels=("policy",),
    )
    by_policy = server.handler._delivery.dropped_by_policy
    for policy in _DROP_POLICIES:
        dropped.add_metric((policy,), by_policy[policy])
    yield dropped
    yield CounterMetricFamily(
        "trioproto_backpressure_closed_connections",
        "Connections closed by the close policy at a full send buffer (1013 by default).",
        value=statistics.backpressure_closes,
    )
    yield GaugeMetricFamily(
        "trioproto_send_buffer_bytes",
        "Bytes of hub messages queued in the open connections' send buffers, not yet written.",
        value=statistics.send_buffer_bytes,
    )


def _backplane(backplane: BackplaneStatistics) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "trioproto_backplane_connected",
        "1 while the backplane reaches the broker (the other nodes), 0 during an outage.",
        value=int(backplane.connected),
    )
    envelopes = CounterMetricFamily(
        "trioproto_backplane_messages",
        "Hub messages through the backplane by direction (sent to the broker, received from "
        "other nodes and delivered here).",
        labels=("direction",),
    )
    envelopes.add_metric(("received",), backplane.received)
    envelopes.add_metric(("sent",), backplane.published)
    yield envelopes
    yield CounterMetricFamily(
        "trioproto_backplane_publish_failures",
        "Publishes to the broker refused or failed (not connected, error or timeout).",
        value=backplane.publish_failures,
    )
    yield CounterMetricFamily(
        "trioproto_backplane_dropped_messages",
        "Messages from other nodes dropped because this node fell too far behind.",
        value=backplane.dropped,
    )
    yield CounterMetricFamily(
        "trioproto_backplane_outages",
        "Times the connection to the broker was lost.",
        value=backplane.outages,
    )
    if isinstance(backplane, RedisBackplaneStatistics):
        yield CounterMetricFamily(
            "trioproto_backplane_rejected_messages",
            "Messages from Redis this node could not read (another wire version).",
            value=backplane.rejected,
        )
