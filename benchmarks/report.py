"""Medians, ratios, Markdown, JSON and a plot from the raw benchmark records."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

#: The figure of merit of each kind of workload, and whether higher is better.
METRICS = {
    "msg_per_s": ("msg/s", True),
    "mb_per_s": ("MB/s", True),
    "p50_ms": ("p50 ms", False),
    "p99_ms": ("p99 ms", False),
    "server_cpu_us_per_op": ("server µs/op", False),
    "client_cpu": ("client CPU", False),
    "handshakes_per_s": ("handshakes/s", True),
    "kib_per_connection": ("KiB/connection", False),
}
PEERS = ["websockets-trio", "trio-websocket", "websockets-asyncio", "bare-trio"]


def medians(records: list[dict[str, object]]) -> dict[str, dict[str, dict[str, float]]]:
    """workload -> server -> metric -> median over the rounds (failed runs left out)."""
    table: dict[str, dict[str, dict[str, list[float]]]] = {}
    for record in records:
        if "error" in record:
            continue
        row = table.setdefault(str(record["workload"]), {}).setdefault(str(record["server"]), {})
        for metric in METRICS:
            value = record.get(metric)
            if isinstance(value, int | float):
                row.setdefault(metric, []).append(float(value))
    return {
        workload: {
            server: {metric: statistics.median(values) for metric, values in row.items()}
            for server, row in servers.items()
        }
        for workload, servers in table.items()
    }


def _headline(row: dict[str, float]) -> str | None:
    for metric in ("handshakes_per_s", "kib_per_connection", "mb_per_s", "msg_per_s"):
        if metric in row and (metric != "mb_per_s" or row.get("mb_per_s", 0) > 1):
            return metric
    return None


def markdown(summary: dict[str, dict[str, dict[str, float]]], meta: dict[str, object]) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')} · rounds: {meta.get('rounds')} · "
        f"seconds per run: {meta.get('seconds')} · server on core 0, client (picows/uvloop) "
        "on core 1 · medians of interleaved rounds",
        "",
    ]
    for workload, servers in summary.items():
        metrics = [m for m in METRICS if any(m in row for row in servers.values())]
        lines += [f"## {workload}", ""]
        lines.append("| server | " + " | ".join(METRICS[m][0] for m in metrics) + " |")
        lines.append("|---" * (len(metrics) + 1) + "|")
        for server, row in servers.items():
            cells = [_format(m, row.get(m)) for m in metrics]
            lines.append(f"| {server} | " + " | ".join(cells) + " |")
        ours = servers.get("trioproto")
        if ours is not None:
            headline = _headline(ours)
            ratios = []
            for peer in PEERS:
                if headline and peer in servers and headline in servers[peer]:
                    ratio = ours[headline] / servers[peer][headline]
                    ratios.append(f"{peer} {ratio:.2f}x")
            if headline and ratios:
                lines += ["", f"trioproto / peer ({METRICS[headline][0]}): " + ", ".join(ratios)]
            baseline = servers.get("trioproto-baseline", {})
            if headline and headline in baseline:
                ratio = ours[headline] / baseline[headline]
                lines += ["", f"trioproto / trioproto-baseline ({METRICS[headline][0]}): "
                          f"{ratio:.2f}x"]  # fmt: skip
            with_metrics = servers.get("trioproto-metrics", {})
            if headline and headline in with_metrics:
                ratio = with_metrics[headline] / ours[headline]
                lines += ["", f"trioproto with / without metrics ({METRICS[headline][0]}): "
                          f"{ratio:.3f}x"]  # fmt: skip
            if "p99_ms" in ours and "websockets-trio" in servers:
                peer_p99 = servers["websockets-trio"].get("p99_ms")
                if peer_p99:
                    lines.append(
                        f"p99 latency trioproto / websockets-trio: {ours['p99_ms'] / peer_p99:.2f}x"
                    )
        lines.append("")
    return "\n".join(lines)


def _format(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric == "client_cpu":
        return f"{value * 100:.0f}%"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def plot(summary: dict[str, dict[str, dict[str, float]]], path: Path) -> bool:
    """Bars of each workload's headline metric relative to websockets-trio; False without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    workloads = [w for w, s in summary.items() if "websockets-trio" in s and "trioproto" in s]
    servers = ["trioproto", *PEERS]
    figure, axes = plt.subplots(figsize=(12, 5))
    width = 0.16
    for index, server in enumerate(servers):
        values = []
        for workload in workloads:
            headline = _headline(summary[workload]["trioproto"])
            base = summary[workload]["websockets-trio"].get(headline or "", 0)
            value = summary[workload].get(server, {}).get(headline or "", 0)
            relative = value / base if base else 0
            if headline == "kib_per_connection" and relative:
                relative = 1 / relative  # less memory is better: plot the inverse
            values.append(relative)
        axes.bar([i + index * width for i in range(len(workloads))], values, width, label=server)
    axes.axhline(1.0, color="grey", linewidth=0.8)
    axes.set_xticks([i + 2 * width for i in range(len(workloads))])
    axes.set_xticklabels([w.replace(", ", "\n") for w in workloads], fontsize=7)
    axes.set_ylabel("relative to websockets' trio server (higher is better)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return True


def write_report(
    records: list[dict[str, object]], directory: Path, meta: dict[str, object]
) -> list[Path]:
    """Write raw records and medians as JSON, the tables as Markdown, and a PNG plot."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    summary = medians(records)
    payload = json.dumps({"meta": meta, "medians": summary, "records": records}, indent=1)
    text = markdown(summary, meta)
    paths = []
    for name in (f"{stamp}.json", "latest.json"):
        (directory / name).write_text(payload)
        paths.append(directory / name)
    for name in (f"{stamp}.md", "latest.md"):
        (directory / name).write_text(text)
        paths.append(directory / name)
    if plot(summary, directory / "latest.png"):
        paths.append(directory / "latest.png")
    return paths
