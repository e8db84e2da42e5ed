"""Summarize an Autobahn|Testsuite fuzzing-client report; exit 1 unless every case is strict.

``python compliance/summarize.py compliance/reports/servers/index.json``

A case passes when both its behaviour and its closing behaviour are ``OK`` or
``INFORMATIONAL`` (cases whose outcome the RFC leaves open, e.g. 7.1.6). ``NON-STRICT``,
``UNIMPLEMENTED`` and ``FAILED`` fail the run.
"""

from __future__ import annotations

import json
import sys
from collections import Counter

PASSING = {"OK", "INFORMATIONAL"}


def case_key(case: str) -> tuple[int, ...]:
    return tuple(int(part) for part in case.split("."))


def main(path: str) -> int:
    with open(path, encoding="utf-8") as file:
        report = json.load(file)
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
