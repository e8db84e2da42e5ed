"""Prometheus metrics for a trioproto server (needs the ``metrics`` extra: ``prometheus-client``).

Shipped as its own module, like :mod:`trioproto.testing`, so that ``import trioproto`` never
needs ``prometheus-client``.
"""

from ._metrics import DEFAULT_METRICS_PATH as DEFAULT_METRICS_PATH
from ._metrics import MetricSource as MetricSource
from ._metrics import ServerCollector as ServerCollector
from ._metrics import add_metrics_route as add_metrics_route
from ._metrics import server_metrics as server_metrics

__all__ = [
    "DEFAULT_METRICS_PATH",
    "MetricSource",
    "ServerCollector",
    "add_metrics_route",
    "server_metrics",
]

# Objects say they come from "trioproto.metrics", as trioproto/__init__.py does for its own.
for _name in __all__:
    _object = globals()[_name]
    if getattr(_object, "__module__", "") == "trioproto._metrics":
        _object.__module__ = __name__
del _name, _object
