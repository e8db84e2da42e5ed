"""The sans-IO layer and the pure layers import no trio, socket or ssl (design.md "Layers")."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import trioproto._sansio

PURE_MODULES = [
    "trioproto._exceptions",
    "trioproto._config",
    "trioproto._options",
    "trioproto._url",
    "trioproto._registry",
    "trioproto._request",
    "trioproto._routing",
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
