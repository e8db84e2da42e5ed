"""Build the optional C accelerator; everything else is in pyproject.toml.

TRIOPROTO_BUILD_EXTENSION=yes requires the extension (the build fails without a compiler),
=no skips it, and the default builds it when it can and falls back to pure Python otherwise
(as websockets' BUILD_EXTENSION does).
"""

import os

from setuptools import Extension, setup

mode = os.environ.get("TRIOPROTO_BUILD_EXTENSION", "auto").lower()
if mode not in ("yes", "no", "auto"):
    raise SystemExit(f"TRIOPROTO_BUILD_EXTENSION must be yes, no or auto, not {mode!r}")

ext_modules = []
if mode != "no":
    ext_modules.append(
        Extension(
            "trioproto._sansio._speedups",
            sources=["trioproto/_sansio/_speedups.c"],
            optional=mode == "auto",
        )
    )

setup(ext_modules=ext_modules)
