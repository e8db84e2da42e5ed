"""Every Python code block in README.md and docs/ runs, so the documentation cannot drift.

The blocks of one page run in order in one namespace, as a reader reads them: a later block
may use what an earlier one defined. ``__name__`` is not ``"__main__"``, so a block ends with
``if __name__ == "__main__": trio.run(main)`` to show how a program starts a server that runs
until Ctrl-C; the definitions above that line still run. Coroutine functions named ``test_*``
that a page defines (the testing how-to) are then run under ``trio.run``.

A signature in the reference is written as a stub (``async def serve(app, port=0, *, ...) ->
None: ...``); when a page defines a function or class named like one of ``trioproto.__all__``,
its parameters must be those of the real one, in order, so the reference lists every
parameter.

A block that cannot run (a fragment of a larger program) follows the line
``<!-- docs: skip -->``, which renders as nothing; keep that rare.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trio

import trioproto

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
SKIP_MARKER = "<!-- docs: skip -->"

_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def code_blocks(text: str) -> list[tuple[int, str, bool]]:
    """The ``python`` blocks of a Markdown page: (first line number, code, skipped)."""
    blocks = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        line = text.count("\n", 0, match.start()) + 2
        blocks.append((line, match.group(1), before.strip() == SKIP_MARKER))
    return blocks


def test_every_page_is_collected() -> None:
    names = {page.relative_to(ROOT).as_posix() for page in PAGES}
    assert {"README.md", "docs/howto/testing.md", "docs/tutorial/2-subprotocols.md"} <= names


def test_code_blocks_and_the_skip_marker() -> None:
    page = f"text\n```python\nx = 1\n```\n{SKIP_MARKER}\n```python\ny = (\n```\n"
    assert code_blocks(page) == [(3, "x = 1\n", False), (7, "y = (\n", True)]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_page_code_runs(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with _loggers_restored("trioproto", "trioproto.access"):
        _run_page(page, monkeypatch)


@contextmanager
def _loggers_restored(*names: str) -> Iterator[None]:
    """A page may set a level, add a handler or stop propagation; undo that afterwards."""
    saved = [
        (logger, logger.level, list(logger.handlers), logger.propagate)
        for logger in map(logging.getLogger, names)
    ]
    try:
        yield
    finally:
        for logger, level, handlers, propagate in saved:
            logger.handlers[:] = handlers
            logger.propagate = propagate
            logger.setLevel(level)  # also clears the isEnabledFor() caches


def _run_page(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))  # pages import the examples as a reader would
    name = page.relative_to(ROOT).as_posix()
    namespace: dict[str, object] = {"__name__": "docs_page"}
    for line, code, skipped in code_blocks(page.read_text(encoding="utf-8")):
        if skipped:
            continue
        # Blank lines keep the traceback's line numbers those of the page.
        exec(compile("\n" * (line - 1) + code, name, "exec"), namespace)
    for test_name, function in list(namespace.items()):
        if test_name.startswith("test_") and inspect.iscoroutinefunction(function):
            trio.run(_within_30_seconds, function)
    for stub_name, stub in namespace.items():
        real = getattr(trioproto, stub_name, None)
        if callable(stub) and getattr(stub, "__module__", None) == "docs_page" and real:
            assert _parameters(stub) == _parameters(real), f"{name}: {stub_name}'s parameters"


def _parameters(function: object) -> list[str]:
    assert callable(function)
    return [str(p.replace(annotation=p.empty, default=p.empty)) for p in
            inspect.signature(function).parameters.values()]  # fmt: skip


async def _within_30_seconds(function: Callable[[], Awaitable[object]]) -> None:
    with trio.fail_after(30):
        await function()
