"""Metrics of every worker from any worker: snapshots in the workers' shared directory.

Theory of operation
-------------------
With ``SO_REUSEPORT`` the kernel hands a scrape to any one worker, so every worker must
answer for all of them. Each worker keeps computing its own figures at scrape time (nothing per
message), and once a second, and when it stops, writes them to a snapshot file in the
directory its supervisor made for the workers (:class:`~trioproto._worker_context.WorkerContext`):
a JSON list of metric families, written to a temporary file and moved into place with
:func:`os.replace`, so a reader sees the previous snapshot or the next one, never half of one.

A scrape answers with the answering worker's live figures and the other workers' latest
snapshots, every sample labelled ``worker="<index>"``. So:

* the other workers' figures are at most about one second old;
* a worker that died shows its last snapshot until its replacement (same index) writes its
  own, within a second of starting; the replacement's counters start again from zero, which
  Prometheus reads as a counter reset (``rate()`` and ``increase()`` handle it);
* a worker that has not written yet (it is starting) is absent from the answer.

This is the approach of ``prometheus_client``'s multiprocess mode (one file per process, merged
at scrape time), at one write per second instead of one per update.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import trio
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from ._worker_context import WorkerContext

__all__ = [
    "SNAPSHOT_INTERVAL",
    "WORKER_LABEL",
    "AllWorkers",
    "read_other_snapshots",
    "share_snapshots",
]

logger = logging.getLogger("trioproto.worker")

#: Seconds between two snapshots of a worker: how stale the other workers' figures may be.
SNAPSHOT_INTERVAL = 1.0

#: The label that tells the workers' samples apart.
WORKER_LABEL = "worker"

#: One worker's figures: its index and its metric families.
Snapshot = tuple[int, list[Metric]]


async def share_snapshots(
    collect: Callable[[], Iterable[Metric]], worker: WorkerContext, endpoint: str
) -> None:
    """Write ``collect()`` as ``worker``'s snapshot for the metrics ``endpoint`` (its path)
    every :data:`SNAPSHOT_INTERVAL` seconds until cancelled, and once more then.

    A snapshot that cannot be written (a full disk) is logged once and tried again a second
    later: serving goes on, the other workers show this one's previous figures meanwhile.
    """
    path = _snapshot_path(Path(worker.shared_directory), endpoint, worker.index)
    writer = _SnapshotWriter(path)
    try:
        while True:
            await trio.to_thread.run_sync(writer.write, _dumps(collect()))
            await trio.sleep(SNAPSHOT_INTERVAL)
    finally:
        # The figures as the worker stops (cancelled: no await; one small file).
        writer.write(_dumps(collect()))


class _SnapshotWriter:
    """Replaces one snapshot file atomically; logs the first failure of a run of them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.failing = False

    def write(self, text: str) -> None:
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(text, encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError as exc:
            if not self.failing:
                logger.warning("cannot write the metrics snapshot %s: %s", self.path, exc)
            self.failing = True
        else:
            self.failing = False


class AllWorkers(Collector):
    """The live figures of this worker and the snapshots of the others, labelled by worker."""

    def __init__(self, live: Collector, worker: WorkerContext, others: Iterable[Snapshot]) -> None:
        self._live = live
        self._index = worker.index
        self._others = list(others)

    def collect(self) -> Iterator[Metric]:
        """Every family once, with the samples of every worker (own index first)."""
        return iter(_labelled([(self._index, list(self._live.collect())), *self._others]))


async def read_other_snapshots(worker: WorkerContext, endpoint: str) -> list[Snapshot]:
    """The latest snapshots of every worker but ``worker``, by index."""
    return await trio.to_thread.run_sync(
        _read_snapshots, Path(worker.shared_directory), endpoint, worker.index
    )


# ------------------------------------------------------------------------ files


def _snapshot_path(directory: Path, endpoint: str, index: int) -> Path:
    return directory / f"metrics-{_key(endpoint)}-{index}.json"


def _key(endpoint: str) -> str:
    """``endpoint`` (a path) as part of a file name, with no glob character left."""
    return urllib.parse.quote(endpoint, safe="")


def _read_snapshots(directory: Path, endpoint: str, own_index: int) -> list[Snapshot]:
    prefix = f"metrics-{_key(endpoint)}-"
    snapshots = []
    for path in directory.glob(f"{prefix}*.json"):
        index_text = path.name.removeprefix(prefix).removesuffix(".json")
        if not index_text.isdigit() or int(index_text) == own_index:
            continue
        try:
            families = _loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Removed by a supervisor stopping, or not ours: that worker is left out.
            logger.debug("snapshot %s left out: %s", path, exc)
            continue
        snapshots.append((int(index_text), families))
    return sorted(snapshots, key=lambda snapshot: snapshot[0])


# ---------------------------------------------------------------- serialization


def _dumps(families: Iterable[Metric]) -> str:
    return json.dumps(
        [
            {
                "name": family.name,
                "documentation": family.documentation,
                "type": family.type,
                "unit": family.unit,
                "samples": [
                    [sample.name, sample.labels, sample.value] for sample in family.samples
                ],
            }
            for family in families
        ]
    )


def _loads(text: str) -> list[Metric]:
    families = []
    for entry in json.loads(text):
        family = Metric(entry["name"], entry["documentation"], entry["type"], entry["unit"])
        for name, labels, value in entry["samples"]:
            family.samples.append(Sample(name, dict(labels), float(value)))
        families.append(family)
    return families


def _labelled(snapshots: Iterable[Snapshot]) -> list[Metric]:
    """One family per name, holding every worker's samples with its ``worker`` label."""
    merged: dict[str, Metric] = {}
    for index, families in snapshots:
        worker = str(index)
        for family in families:
            target = merged.get(family.name)
            if target is None:
                target = Metric(family.name, family.documentation, family.type, family.unit)
                merged[family.name] = target
            for sample in family.samples:
                labels = {**sample.labels, WORKER_LABEL: worker}
                target.samples.append(Sample(sample.name, labels, sample.value))
    return list(merged.values())
