"""The reference pages document every public name (``trioproto``, ``trioproto.testing``,
``trioproto.metrics``), and name nothing that is gone."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import trioproto
import trioproto.metrics
import trioproto.testing

REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "reference"
_DIRECTIVE = re.compile(r"^::: (\S+)$", re.MULTILINE)


def documented_names() -> set[str]:
    """Every ``::: dotted.name`` in the reference pages (what mkdocstrings renders)."""
    return {
        name
        for page in REFERENCE.glob("*.md")
        for name in _DIRECTIVE.findall(page.read_text(encoding="utf-8"))
    }


def test_every_public_name_has_a_reference_entry() -> None:
    public = {f"trioproto.{name}" for name in trioproto.__all__}
    public |= {f"trioproto.testing.{name}" for name in trioproto.testing.__all__}
    public |= {f"trioproto.metrics.{name}" for name in trioproto.metrics.__all__}
    missing = sorted(public - documented_names())
    assert not missing, f"add a '::: NAME' block to a page in docs/reference/ for: {missing}"


def test_every_reference_entry_names_something_that_exists() -> None:
    for dotted in sorted(documented_names()):
        module_name, _, attribute = dotted.rpartition(".")
        module = importlib.import_module(module_name)
        assert hasattr(module, attribute), f"docs/reference names {dotted}, which is gone"
