"""The project's two set-up commands, for a fresh machine with Python 3.10+.

    python3 dev.py run     serve the sample app on SQLite at http://127.0.0.1:5000/healthz
    python3 dev.py test    lint, type-check, build the docs and run the whole test suite

Both create ``.venv`` and install the project with its ``dev`` extra into it when
``pyproject.toml`` has changed since the last install; nothing else is needed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".installed-pyproject-sha256"

#: Programs the tests run, with the Debian package that provides each.
SYSTEM_PACKAGES = {"chromium": "chromium"}


def ensure_system_packages() -> None:
    """Install the missing programs of ``SYSTEM_PACKAGES`` as root on a Debian-like system.

    Elsewhere nothing is installed, and the tests that need a missing program skip with a
    reason (or fail under ``CI=true``).
    """
    missing = sorted(
        {package for program, package in SYSTEM_PACKAGES.items() if not shutil.which(program)}
    )
    if not missing or os.name != "posix" or os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    print(f"installing {', '.join(missing)} with apt-get", flush=True)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    updated = subprocess.run(["apt-get", "update", "-qq"], check=False, env=environment)
    installed = subprocess.run(
        ["apt-get", "install", "-y", "-qq", "-o", "DPkg::Lock::Timeout=300", *missing],
        check=False,
        env=environment,
        stdout=subprocess.DEVNULL,
    )
    if updated.returncode or installed.returncode:
        # Not fatal: the tests that need the program say so (and fail under CI=true).
        print(f"could not install {', '.join(missing)}; the tests that need it will say so")


def ensure_environment() -> None:
    """Create the virtual environment and install the project into it if it is stale."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def run(*command: str) -> None:
    print("+", " ".join(command), flush=True)
    completed = subprocess.run(command, cwd=ROOT, check=False)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def tool(name: str) -> str:
    return str(BIN / name)


def test(pytest_args: list[str]) -> None:
    run(tool("ruff"), "check", ".")
    run(tool("ruff"), "format", "--check", ".")
    run(tool("mypy"))
    run(tool("sphinx-build"), "-W", "--keep-going", "-q", "-b", "html", "docs", "docs/_build/html")
    # Three processes (most tests wait on servers, not on the CPU), a file at a time in the
    # order tests/conftest.py gives (the slowest first), the slowest tests listed at the end;
    # arguments given to "dev.py test" come after these and may override them.
    run(
        str(PYTHON), "-m", "pytest", "-n", "3", "--dist", "loadfile", "--no-loadscope-reorder",
        "--durations=15", *pytest_args,
    )  # fmt: skip


def serve(port: str) -> None:
    os.chdir(ROOT)
    os.execv(
        str(PYTHON),
        [str(PYTHON), "-m", "flask", "--app", "sample_app:create_app", "run", "--port", port],
    )


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in {"run", "test"}:
        sys.exit(__doc__)
    ensure_environment()
    if argv[0] == "run":
        serve(os.environ.get("PORT", "5000"))
    else:
        ensure_system_packages()  # only the tests need them (a browser for the status page)
        test(argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
