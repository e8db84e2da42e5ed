"""MkDocs hook: the "Results" pages, generated at build time from the project's own files.

* ``results/autobahn.md`` from ``compliance/RESULTS.md`` (written by ``compliance/run``);
* ``results/benchmarks.md`` and its plot from ``benchmarks/results/latest.{md,json,png}``
  (written by ``python -m benchmarks``).

Nothing is retyped: each page is the result file itself under a header naming the command that
reproduces it and the date it ran. A result file without a date fails the build, so a page can
never show figures of unknown age.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
AUTOBAHN_RESULTS = ROOT / "compliance" / "RESULTS.md"
BENCHMARK_RESULTS = ROOT / "benchmarks" / "results"

_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2})?)\b")
#: ``python -m benchmarks`` defaults, left off the reproducing command.
_BENCHMARK_DEFAULTS = {"rounds": 3, "seconds": 3.0, "idle": 10000}


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated pages (an MkDocs event hook)."""
    files.append(File.generated(config, "results/autobahn.md", content=autobahn_page()))
    files.append(File.generated(config, "results/benchmarks.md", content=benchmarks_page()))
    plot = BENCHMARK_RESULTS / "latest.png"
    if plot.exists():
        files.append(File.generated(config, "results/benchmarks.png", abs_src_path=str(plot)))
    return files


def autobahn_page() -> str:
    """The Autobahn page: ``compliance/RESULTS.md`` under its date and command."""
    text = AUTOBAHN_RESULTS.read_text(encoding="utf-8")
    body = _without_title(text)
    return (
        "# Autobahn|Testsuite results\n\n"
        f"**Run on:** {_first_date(text, AUTOBAHN_RESULTS)} · "
        "**reproduce:** `compliance/run` (all cases, about 25 minutes; "
        "`compliance/run '1.*' '2.*'` runs only some sections) · "
        "generated from `compliance/RESULTS.md` when this site was built.\n\n"
        f"{body}"
    )


def benchmarks_page() -> str:
    """The benchmark page: ``latest.md`` under its date and command, with the plot."""
    text = (BENCHMARK_RESULTS / "latest.md").read_text(encoding="utf-8")
    meta_path = BENCHMARK_RESULTS / "latest.json"
    meta: dict[str, Any] = {}
    if meta_path.exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8")).get("meta", {})
    plot = ""
    if (BENCHMARK_RESULTS / "latest.png").exists():
        plot = "![Each workload relative to websockets' trio server](benchmarks.png)\n\n"
    return (
        "# Benchmark results\n\n"
        f"**Run on:** {_first_date(text, BENCHMARK_RESULTS / 'latest.md')} · "
        f"**reproduce:** `{benchmark_command(meta)}` "
        "(see `benchmarks/README.md` for the machine it needs) · "
        "generated from `benchmarks/results/` when this site was built.\n\n"
        f"{plot}{_without_title(text)}"
    )


def benchmark_command(meta: dict[str, Any]) -> str:
    """The ``python -m benchmarks`` command line that produced a run with ``meta``."""
    words = ["python", "-m", "benchmarks"]
    if meta.get("quick"):
        words.append("--quick")
    else:
        for name, default in _BENCHMARK_DEFAULTS.items():
            if name in meta and meta[name] != default:
                words += [f"--{name}", str(meta[name])]
    if meta.get("workloads"):
        words += ["--workloads", *meta["workloads"]]
    return shlex.join(words)


def _first_date(text: str, source: Path) -> str:
    match = _DATE.search(text)
    if match is None:
        raise PluginError(f"{source.relative_to(ROOT)} states no run date (YYYY-MM-DD)")
    return match.group(1)


def _without_title(text: str) -> str:
    """Drop the file's own ``# title`` line: the page has its own."""
    lines = text.splitlines(keepends=True)
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "".join(lines).lstrip("\n")
