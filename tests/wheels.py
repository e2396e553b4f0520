"""The sdist and the wheel of the working tree, built as ``dev.py test`` builds them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import flask_healthcheck

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "flask_healthcheck"
STEM = f"flask_health_checks-{flask_healthcheck.__version__}"
#: The files the build reads, and the directories the sdist must leave out, which come along
#: so that leaving them out is tested.
FILES = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "CHANGES.rst")
DIRECTORIES = (PACKAGE.name, "tests", "sample_app", "bench")


def build(scratch: Path) -> dict[str, Path]:
    """Build the sdist and the wheel from a copy of the tree in *scratch* (a build writes into
    its source tree, and tests run side by side); return them by kind."""
    source, out = scratch / "source", scratch / "dist"
    source.mkdir()
    for name in FILES:
        shutil.copy2(ROOT / name, source / name)
    for directory in DIRECTORIES:
        shutil.copytree(
            ROOT / directory, source / directory, ignore=shutil.ignore_patterns("__pycache__")
        )
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    return {"sdist": out / f"{STEM}.tar.gz", "wheel": out / f"{STEM}-py3-none-any.whl"}
