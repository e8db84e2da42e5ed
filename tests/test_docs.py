"""The reference pages document every public name (``trioproto``, ``trioproto.testing``,
``trioproto.metrics``), and name nothing that is gone."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

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


def test_sphinx_roles_become_links_to_public_names_and_code_otherwise() -> None:
    pytest.importorskip("griffe", reason="the docs extra is not installed")
    from tools.griffe_rst_roles import rewrite_roles

    def link(identifier: str, shown: str) -> str:
        return f'<autoref identifier="{identifier}" optional><code>{shown}</code></autoref>'

    assert (
        rewrite_roles("a :class:`~trioproto.Router` b")
        == f"a {link('trioproto.Router', 'Router')} b"
    )
    assert rewrite_roles(":meth:`WebSocket.close`") == link(
        "trioproto.WebSocket.close", "WebSocket.close"
    )
    assert rewrite_roles(":func:`open_test_client`") == link(
        "trioproto.testing.open_test_client", "open_test_client"
    )
    assert rewrite_roles(":meth:`activate`", "trioproto.WebSocket") == link(
        "trioproto.WebSocket.activate", "activate"
    )
    assert rewrite_roles(":class:`trio.EndOfChannel`") == "`trio.EndOfChannel`"
    assert rewrite_roles(":meth:`_answer`") == "`_answer`"  # no class to belong to


def test_result_pages_carry_their_date_and_command() -> None:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed")
    from mkdocs.exceptions import PluginError

    from tools import docs_results

    page = docs_results.autobahn_page()
    assert page.startswith("# Autobahn|Testsuite results\n")
    assert re.search(r"\*\*Run on:\*\* \d{4}-\d{2}-\d{2}", page)
    assert "`compliance/run`" in page
    assert "| section |" in page  # the table itself, not retyped
    assert docs_results.benchmark_command({"quick": True}) == "python -m benchmarks --quick"
    assert (
        docs_results.benchmark_command({"rounds": 5, "seconds": 3.0, "workloads": ["32 B, 100"]})
        == "python -m benchmarks --rounds 5 --workloads '32 B, 100'"
    )
    with pytest.raises(PluginError, match="states no run date"):
        docs_results._first_date("no date here", docs_results.AUTOBAHN_RESULTS)
