"""What every scenario shares: its settings, its result, and the summary table."""

from __future__ import annotations

import resource
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

__all__ = ["Result", "Settings", "kib", "mib", "raise_descriptor_limit", "render_table"]

T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """How big a run is.

    Attributes:
        short: the CI size (the whole suite in under a minute) instead of the full size.
        seed: the fuzzers' random seed; the same seed replays the same inputs.
        failures_dir: where failing fuzz inputs are saved for ``python -m stress replay``.
    """

    short: bool = False
    seed: int = 1717
    failures_dir: Path = Path("stress-failures")

    def size(self, short: T, full: T) -> T:
        """``short`` in a short run, else ``full``."""
        return short if self.short else full


@dataclass
class Result:
    """What a scenario measured and what went wrong.

    Attributes:
        name: the scenario.
        figures: the measurements shown in the summary table, as display strings.
        failures: one line per failed check; the scenario passes when there is none.
    """

    name: str
    figures: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures

    def check(self, condition: bool, failure: str) -> None:
        """Record ``failure`` unless ``condition`` holds."""
        if not condition:
            self.failures.append(failure)

    def count_failures(self, what: str, lines: list[str], shown: int = 3) -> None:
        """Record a failure summarising ``lines`` (each one bad outcome), if there are any."""
        if lines:
            examples = "; ".join(lines[:shown])
            self.failures.append(f"{len(lines)} {what}: {examples}")


def render_table(results: list[Result]) -> str:
    """The summary: one row per scenario, its result, time and figures; failures below."""
    rows = [("scenario", "result", "time", "figures")]
    for result in results:
        figures = ", ".join(f"{name} {value}" for name, value in result.figures.items())
        rows.append(
            (result.name, "ok" if result.passed else "FAIL", f"{result.seconds:.1f} s", figures)
        )
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = []
    for index, row in enumerate(rows):
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + "  "
            + row[3]
        )
        if index == 0:
            lines.append("  ".join("-" * width for width in widths) + "  " + "-" * 7)
    for result in results:
        for failure in result.failures:
            lines.append(f"FAIL {result.name}: {failure}")
    return "\n".join(lines)


def raise_descriptor_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to the hard limit; return it."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def mib(size: float) -> str:
    """``size`` bytes as MiB for the table."""
    return f"{size / 2**20:.1f} MiB"


def kib(size: float) -> str:
    """``size`` bytes as KiB for the table."""
    return f"{size / 2**10:.1f} KiB"
