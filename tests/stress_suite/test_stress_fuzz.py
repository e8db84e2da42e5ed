"""stress.fuzz: the mutator is deterministic, the oracles accept valid input and catch bad
answers, and saved inputs replay from the command line."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from stress.fuzz import corpus, oracles
from stress.fuzz.mutate import Mutator
from stress.fuzz.seeds import DEFLATE_SEEDS, FRAME_SEEDS, HEAD_SEEDS, TOKENS


def test_equal_seeds_give_equal_inputs() -> None:
    first = list(Mutator(HEAD_SEEDS, TOKENS, 5).inputs(200))
    assert first == list(Mutator(HEAD_SEEDS, TOKENS, 5).inputs(200))
    assert first != list(Mutator(HEAD_SEEDS, TOKENS, 6).inputs(200))
    assert sum(data not in HEAD_SEEDS for data in first) > 150


@pytest.mark.parametrize(
    ("kind", "seeds"), [("head", HEAD_SEEDS), ("frames", FRAME_SEEDS), ("deflate", DEFLATE_SEEDS)]
)
def test_valid_seeds_pass_their_oracle(kind: str, seeds: list[bytes]) -> None:
    for seed in seeds:
        assert oracles.judge(kind, seed) is None


def test_cuts_keep_every_byte() -> None:
    data = bytes(range(200))
    assert b"".join(oracles._cuts(data)) == data
    assert len(oracles._cuts(data)) >= 2


def test_an_exception_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(data: bytes) -> str | None:
        raise KeyError("a bug")

    monkeypatch.setitem(oracles.ORACLES, "head", broken)
    assert oracles.judge("head", b"GET") == "KeyError: 'a bug'"


def test_a_hang_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def endless(data: bytes) -> str | None:
        while True:
            time.sleep(0.01)

    monkeypatch.setattr(oracles, "HANG_SECONDS", 0.2)
    monkeypatch.setitem(oracles.ORACLES, "frames", endless)
    assert oracles.judge("frames", b"") == "Hang: no answer within 0.2 s"


def _stress(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stress", *args], capture_output=True, text=True, timeout=60
    )


def test_replay_runs_saved_inputs(tmp_path: Path) -> None:
    corpus.save(tmp_path, "frames", FRAME_SEEDS[0], "once failed")
    corpus.save(tmp_path, "socket_head", HEAD_SEEDS[0], "once failed")
    replayed = _stress("replay", str(tmp_path))
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "0 of 2 inputs still fail" in replayed.stdout


def test_replay_reports_a_failing_input(tmp_path: Path) -> None:
    # A close code that may not be sent, echoed back would be wrong; the codec answers 1002.
    # Here the oracle itself is fed an input of an unknown kind: a one-line error, exit 1.
    (tmp_path / "bogus-0.bin").write_bytes(b"x")
    replayed = _stress("replay", str(tmp_path))
    assert replayed.returncode == 1
    assert "unknown input kind 'bogus'" in replayed.stdout


def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path) -> None:
    unknown = _stress("no-such-scenario")
    assert unknown.returncode == 2
    assert "unknown scenario 'no-such-scenario'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    missing = _stress("replay", str(tmp_path / "nothing"))
    assert missing.returncode == 2
    assert "no such file or directory" in missing.stderr


def test_list_names_every_scenario() -> None:
    listed = _stress("list")
    assert listed.returncode == 0
    names = [line.split()[0] for line in listed.stdout.splitlines()]
    assert names == [
        "slowloris",
        "idle",
        "disconnects",
        "fuzz",
        "memory",
        "handler-failures",
        "shutdown",
        "close-frames",
    ]
