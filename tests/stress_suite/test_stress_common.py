"""stress.common: the summary table and the exit status it stands for."""

from __future__ import annotations

from stress.common import Result, Settings, render_table


def test_table_lists_results_and_failures() -> None:
    passed = Result("idle", figures={"connections": "10"}, seconds=1.25)
    failed = Result("shutdown")
    failed.check(False, "shutdown took 20.0 s")
    failed.count_failures("stalls", ["a", "b", "c", "d"], shown=2)
    table = render_table([passed, failed]).splitlines()
    assert table[0].split() == ["scenario", "result", "time", "figures"]
    assert table[2].split() == ["idle", "ok", "1.2", "s", "connections", "10"]
    assert table[3].split()[:2] == ["shutdown", "FAIL"]
    assert table[4:] == [
        "FAIL shutdown: shutdown took 20.0 s",
        "FAIL shutdown: 4 stalls: a; b",
    ]
    assert passed.passed
    assert not failed.passed


def test_settings_pick_the_size() -> None:
    assert Settings(short=True).size(1, 2) == 1
    assert Settings().size(1, 2) == 2
