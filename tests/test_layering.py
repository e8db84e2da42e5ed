"""The layers of docs/topics/design.md: the sans-IO and pure layers import no trio, socket or
ssl, and no module imports one that imports it back."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import trioproto
import trioproto._sansio

PURE_MODULES = [
    "trioproto._exceptions",
    "trioproto._config",
    "trioproto._options",
    "trioproto._counters",
    "trioproto._statistics",
    "trioproto._access_log",
    "trioproto._url",
    "trioproto._cli_types",
    "trioproto._registry",
    "trioproto._request",
    "trioproto._routing",
    "trioproto._outbox",
    "trioproto._prepared",
    *(
        f"trioproto._sansio.{module.name}"
        for module in pkgutil.iter_modules(trioproto._sansio.__path__)
    ),
]


def test_pure_layers_import_no_io() -> None:
    """Importing every sans-IO module in a fresh interpreter leaves trio, socket and ssl out."""
    code = (
        "import sys\n"
        f"for name in {PURE_MODULES!r}:\n"
        "    __import__(name)\n"
        "print(sorted(m for m in ('trio', 'socket', 'ssl') if m in sys.modules))\n"
    )
    # Importing trioproto._sansio runs trioproto/__init__.py, which imports the trio layer;
    # so the check loads the modules by file, with a stub parent package.
    stub = (
        "import importlib.util, sys, types, pathlib\n"
        "root = pathlib.Path(__import__('importlib.util').util.find_spec('trioproto')"
        ".origin).parent\n"
        "for package, path in (('trioproto', root), ('trioproto._sansio', root / '_sansio')):\n"
        "    module = types.ModuleType(package); module.__path__ = [str(path)]\n"
        "    sys.modules[package] = module\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", stub + code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_every_sansio_module_is_checked() -> None:
    names = {name.rsplit(".", 1)[1] for name in PURE_MODULES if "_sansio" in name}
    assert {"_codec", "_frames", "_mask", "_utf8", "_events", "_http", "_handshake"} <= names
    assert {"_deflate", "_extensions"} <= names


def _imports_of(path: Path, module: str) -> set[str]:
    """The trioproto modules ``module`` imports, type-only imports included."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_import_cycles() -> None:
    """No module of trioproto imports, even only for type checking, a module that imports it
    back (directly or through others): each layer reads without the ones above it."""
    root = Path(trioproto.__file__).parent
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph = {
        name: {
            target
            for target in _imports_of(path, name)
            if target in modules and target != name and not name.startswith(target + ".")
        }
        for name, path in modules.items()
    }
    # The package __init__ files only re-export; they are the top of their layers.
    for name in ("trioproto", "trioproto.testing", "trioproto._sansio"):
        for edges in graph.values():
            edges.discard(name)
    cycles = []
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, cycles


def test_tls_modules_import_only_the_ones_below_them() -> None:
    """The TLS stack, bottom up: the socket transport, the ciphertext pump over it, the
    handshake and the shutdown over the pump, the TLS stream over them, the contexts."""
    stack = [
        "trioproto._transport",
        "trioproto._ciphertext_pump",
        "trioproto._tls_handshake",
        "trioproto._tls_shutdown",
        "trioproto._tls_transport",
        "trioproto._tls",
    ]
    root = Path(trioproto.__file__).parent
    for index, name in enumerate(stack):
        path = root / f"{name.rsplit('.', 1)[1]}.py"
        assert _imports_of(path, name) & set(stack) <= set(stack[:index]), name


#: Classes allowed past the size limit, with the reason.
LONG_CLASSES = {
    # The framing state machine (RFC 6455 §5-§7) reads top-down as one class.
    "trioproto._sansio._codec.Codec",
}
MAX_CLASS_LINES = 250


def test_no_long_classes() -> None:
    """Every class of trioproto, docstrings included, stays within MAX_CLASS_LINES lines: a
    class that grows past it holds more than one job (docs/topics/design.md)."""
    root = Path(trioproto.__file__).parent
    too_long = []
    for path in sorted(root.rglob("*.py")):
        module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                name = f"{module}.{node.name}"
                if lines > MAX_CLASS_LINES and name not in LONG_CLASSES:
                    too_long.append(f"{name}: {lines} lines")
    assert not too_long, too_long
