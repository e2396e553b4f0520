"""The project's two set-up commands, for a fresh machine with Python 3.10+.

    python3 dev.py run     serve the sample app on SQLite at http://127.0.0.1:5000/healthz
                           (PORT=8000 python3 dev.py run for another port)
    python3 dev.py test    lint, type-check, build the docs and the distributions, and run
                           the whole test suite

Both create ``.venv`` and install the project into it, with the ``all`` extra and a dependency
group of ``pyproject.toml``: ``run`` only the sample app's (``sample``), ``test`` the whole
toolchain (``dev``). They install again when ``pyproject.toml`` has changed since.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".installed-pyproject-sha256"

#: What each command installs next to the project, as pyproject.toml's dependency groups;
#: the ``dev`` group includes the ``sample`` group, so what ``test`` installs serves ``run``.
GROUPS = {"run": "sample", "test": "dev"}
#: The oldest pip that reads dependency groups (``pip install --group``).
PIP = "pip>=25.1"

#: Where the sample app serves its health checks, and what each endpoint answers.
HEALTH_ENDPOINTS = (
    ("/healthz", "every check: a page in a browser, JSON otherwise"),
    ("/healthz/live", "liveness: the app's own state"),
    ("/healthz/ready", "readiness: the checks without tags"),
    ("/healthz/startup", "startup: every critical check has passed once"),
    ("/healthz/database", "one check by its name (redis, disk, ...)"),
)

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


def _installed() -> set[str]:
    """The commands whose dependencies ``.venv`` holds for the current ``pyproject.toml``."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not PYTHON.exists() or not STAMP.exists():
        return set()
    digest, _, commands = STAMP.read_text().partition(" ")
    return set(commands.split(",")) if digest == wanted else set()


def ensure_environment(command: str = "test") -> None:
    """Create ``.venv`` and install what *command* (``run`` or ``test``) needs, if it is stale."""
    done = _installed()
    if command in done or (command == "run" and "test" in done):
        return
    if not PYTHON.exists():
        print(f"dev.py: creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    group = GROUPS[command]
    print(
        f"dev.py: installing flask-health-checks[all] and the {group!r} dependency group into "
        f"{VENV.name} (once, and again when pyproject.toml changes)",
        flush=True,
    )
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "install", "-q", PIP], check=True)
    # Without -q: pip's progress is the only sign of life during a first install.
    subprocess.run([*pip, "install", "-e", f"{ROOT}[all]", "--group", group], check=True)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    STAMP.write_text(f"{wanted} {','.join(sorted({*done, command}))}")


def run(*command: str, quiet: bool = False) -> None:
    """Run *command* in the repository; exit with its status if it fails.

    *quiet* keeps its output unless it fails.
    """
    print("+", " ".join(command), flush=True)
    output = subprocess.PIPE if quiet else None
    completed = subprocess.run(
        command, cwd=ROOT, check=False, stdout=output, stderr=output, text=True
    )
    if completed.returncode != 0:
        if quiet:
            print(completed.stdout, completed.stderr, sep="\n", file=sys.stderr)
        sys.exit(completed.returncode)


def tool(name: str) -> str:
    return str(BIN / name)


def check_distributions() -> None:
    """Build the sdist and the wheel and check that the package index would render them."""
    with tempfile.TemporaryDirectory() as out:
        run(str(PYTHON), "-m", "build", "--no-isolation", "--outdir", out, ".",
            quiet=True)  # fmt: skip
        built = sorted(str(path) for path in Path(out).iterdir())
        run(tool("twine"), "check", "--strict", *built)


def test(pytest_args: list[str]) -> None:
    run(tool("ruff"), "check", ".")
    run(tool("ruff"), "format", "--check", ".")
    run(tool("mypy"))
    run(tool("sphinx-build"), "-W", "--keep-going", "-q", "-b", "html", "docs", "docs/_build/html")
    check_distributions()
    # Three processes (most tests wait on servers, not on the CPU), a file at a time in the
    # order tests/conftest.py gives (the slowest first), the slowest tests listed at the end;
    # arguments given to "dev.py test" come after these and may override them.
    run(
        str(PYTHON), "-m", "pytest", "-n", "3", "--dist", "loadfile", "--no-loadscope-reorder",
        "--durations=15", *pytest_args,
    )  # fmt: skip


def port_from(environment: Mapping[str, str]) -> int:
    """The port ``run`` serves on: ``PORT`` when set, else 5000."""
    text = environment.get("PORT", "5000").strip()
    if not text.isdigit() or not 0 < int(text) < 65536:
        sys.exit(f"dev.py: PORT must be a port number from 1 to 65535, not {text!r}")
    return int(text)


def banner(port: int, environment: Mapping[str, str]) -> str:
    """What ``run`` prints before the server starts: where to look and how to stop."""
    base = f"http://127.0.0.1:{port}"
    width = max(len(path) for path, _ in HEALTH_ENDPOINTS) + len(base)
    database = "DATABASE_URL's database" if environment.get("DATABASE_URL") else "SQLite"
    lines = [
        f"dev.py: the sample app ({database}, services from the environment) on {base}/",
        f"  {base + '/':<{width}}  the app: GET / counts, GET and POST /notes",
        *(f"  {base + path:<{width}}  {what}" for path, what in HEALTH_ENDPOINTS),
        "  Environment variables switch services on: sample_app/README.md.",
        "  Stop it with Ctrl+C.",
    ]
    return "\n".join(lines)


def serve(port: int) -> None:
    print(banner(port, os.environ), flush=True)
    os.chdir(ROOT)
    os.execv(
        str(PYTHON),
        [str(PYTHON), "-m", "flask", "--app", "sample_app:create_app", "run", "--port", str(port)],
    )


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in GROUPS:
        sys.exit(__doc__)
    if argv[0] == "run":
        port = port_from(os.environ)  # a bad PORT fails before a long install
        ensure_environment("run")
        serve(port)
    else:
        ensure_environment("test")
        ensure_system_packages()  # only the tests need them (a browser for the status page)
        test(argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
