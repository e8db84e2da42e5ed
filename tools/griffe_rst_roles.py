"""Griffe extension for the documentation site: the docstrings' Sphinx roles become links.

The docstrings are written for ``help()`` and editors, with Sphinx roles
(``:class:`~trioproto.Router```, ``:meth:`activate```). mkdocstrings renders Markdown, so each
role is rewritten when the docstring is loaded:

* a role naming a public trioproto object (``trioproto.X``, ``X`` or ``X.member`` for a name of
  ``trioproto``, ``trioproto.testing`` or ``trioproto.metrics``; a bare member name inside a
  public class) becomes a cross-reference that mkdocs-autorefs resolves to its reference entry;
* anything else (``trio.EndOfChannel``, a private helper) becomes plain code.

References are *optional*: one to an object the site does not render shows as code rather than
failing the build, since private names in internal docstrings are expected.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

import trioproto
import trioproto.metrics
import trioproto.testing

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|mod|exc|obj|const):`(~?)\.?([\w.]+)`")

#: First name of a reference -> the public module that exports it.
_EXPORTED = {
    **dict.fromkeys(trioproto.__all__, "trioproto"),
    **dict.fromkeys(trioproto.testing.__all__, "trioproto.testing"),
    **dict.fromkeys(trioproto.metrics.__all__, "trioproto.metrics"),
}


def rewrite_roles(text: str, public_class: str | None = None) -> str:
    """Rewrite the Sphinx roles in ``text``; ``public_class``: the public path of the class
    the docstring belongs to, for bare member names."""

    def replace(match: re.Match[str]) -> str:
        shorten, target = match.group(1), match.group(2)
        shown = target.rsplit(".", 1)[-1] if shorten else target
        identifier = _resolve(target, public_class)
        if identifier is None:
            return f"`{shown}`"
        return f'<autoref identifier="{identifier}" optional><code>{shown}</code></autoref>'

    return _ROLE.sub(replace, text)


def _resolve(target: str, public_class: str | None) -> str | None:
    if target.startswith("trioproto."):
        return target
    first = target.split(".", 1)[0]
    if first in _EXPORTED:
        return f"{_EXPORTED[first]}.{target}"
    if public_class is not None and "." not in target:
        return f"{public_class}.{target}"
    return None


def _public_class(obj: griffe.Object) -> str | None:
    """The public path of the class ``obj`` is or belongs to, if that class is exported."""
    owner: Any = obj if obj.is_class else obj.parent
    if owner is not None and owner.is_class and owner.name in _EXPORTED:
        return f"{_EXPORTED[owner.name]}.{owner.name}"
    return None


class SphinxRoles(griffe.Extension):
    """Rewrites each docstring's Sphinx roles as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite_roles(obj.docstring.value, _public_class(obj))
