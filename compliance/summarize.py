"""Summarize an Autobahn|Testsuite fuzzing-client report; exit 1 unless every case is strict.

``python compliance/summarize.py compliance/reports/servers/index.json [--results FILE
--about TEXT]``

With ``--results``, also write the report as Markdown (a table per section, the cases that are
not OK): ``compliance/run`` writes ``compliance/RESULTS.md`` so after a full run, and the
documentation site shows that file.

A case passes when both its behaviour and its closing behaviour are ``OK`` or
``INFORMATIONAL`` (cases whose outcome the RFC leaves open, e.g. 7.1.6). ``NON-STRICT``,
``UNIMPLEMENTED`` and ``FAILED`` fail the run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict

PASSING = {"OK", "INFORMATIONAL"}

#: What each section of the fuzzing client tests.
SECTIONS = {
    1: "framing",
    2: "pings and pongs",
    3: "reserved bits",
    4: "opcodes",
    5: "fragmentation",
    6: "UTF-8 handling",
    7: "close handling",
    9: "limits and performance",
    10: "miscellaneous",
    12: "permessage-deflate, payloads",
    13: "permessage-deflate, parameters",
}
OUTCOMES = ("OK", "INFORMATIONAL", "NON-STRICT", "FAILED", "UNIMPLEMENTED")


def case_key(case: str) -> tuple[int, ...]:
    return tuple(int(part) for part in case.split("."))


def summarize(report: dict[str, dict[str, dict[str, object]]]) -> int:
    status = 0
    for agent, cases in report.items():
        outcomes = Counter(result["behavior"] for result in cases.values())
        bad = sorted(
            (
                case
                for case, result in cases.items()
                if result["behavior"] not in PASSING or result["behaviorClose"] not in PASSING
            ),
            key=case_key,
        )
        summary = ", ".join(f"{name} {count}" for name, count in sorted(outcomes.items()))
        print(f"{agent}: {len(cases)} cases: {summary}")
        for case in bad:
            result = cases[case]
            print(f"  {case}: {result['behavior']} (close: {result['behaviorClose']})")
        if bad:
            status = 1
    return status


def markdown(cases: dict[str, dict[str, object]], about: str) -> str:
    """The report of one agent as Markdown: totals, a table per section, the cases not OK."""
    by_section: dict[int, list[str]] = defaultdict(list)
    for case in cases:
        by_section[case_key(case)[0]].append(case)
    totals = Counter(str(result["behavior"]) for result in cases.values())
    lines = [
        "# Autobahn|Testsuite results",
        "",
        f"Last full run: {time.strftime('%Y-%m-%d')}, {about}",
        "",
        f"**{len(cases)} cases: "
        + ", ".join(f"{totals[name]} {name}" for name in OUTCOMES)
        + ".**",
        "",
        "| section | what | cases | OK | INFORMATIONAL | other | wstest time |",
        "|---|---|---|---|---|---|---|",
    ]
    for section in sorted(by_section):
        names = by_section[section]
        outcomes = Counter(str(cases[name]["behavior"]) for name in names)
        seconds = sum(float(cases[name].get("duration", 0) or 0) for name in names) / 1000
        other = len(names) - outcomes["OK"] - outcomes["INFORMATIONAL"]
        lines.append(
            f"| {section} | {SECTIONS.get(section, '')} | {len(names)} | {outcomes['OK']} | "
            f"{outcomes['INFORMATIONAL']} | {other} | {seconds:.1f} s |"
        )
    not_ok = sorted((name for name in cases if cases[name]["behavior"] != "OK"), key=case_key)
    if not_ok:
        lines += [
            "",
            "Cases not OK (INFORMATIONAL: the RFC leaves the outcome open, as Autobahn marks "
            "them): " + ", ".join(f"{name} ({cases[name]['behavior']})" for name in not_ok) + ".",
        ]
    lines += [
        "",
        "Reproduce with `compliance/run` (this file is rewritten by every full run); the "
        "case-by-case report lands in `compliance/reports/servers/index.html`.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", help="the fuzzing client's index.json")
    parser.add_argument("--results", help="also write the report as Markdown to this file")
    parser.add_argument("--about", default="", help="how and where the run was made")
    args = parser.parse_args(argv)
    with open(args.index, encoding="utf-8") as file:
        report = json.load(file)
    status = summarize(report)
    if args.results:
        (cases,) = report.values()
        with open(args.results, "w", encoding="utf-8") as file:
            file.write(markdown(cases, args.about))
    return status


if __name__ == "__main__":
    sys.exit(main())
