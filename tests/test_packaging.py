"""What installing and importing the package costs, and what it ships."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import flask_healthcheck

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ["sqlalchemy", "alembic", "redis", "celery", "sentry_sdk", "psutil", "prometheus_client"]


def imported_after(statement: str) -> list[str]:
    """Top-level modules of interest in ``sys.modules`` after *statement*, in a fresh process."""
    code = (
        "import json, sys\n"
        f"{statement}\n"
        f"watched = {[*HEAVY, 'flask', 'werkzeug']!r}\n"
        "print(json.dumps(sorted(m for m in watched if m in sys.modules)))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(completed.stdout)  # type: ignore[no-any-return]


def test_importing_the_package_imports_no_integration_and_not_even_flask() -> None:
    assert imported_after("import flask_healthcheck") == []


def test_using_the_extension_imports_flask_but_no_integration() -> None:
    loaded = imported_after(
        "from flask import Flask\n"
        "from flask_healthcheck import HealthCheck\n"
        "health = HealthCheck(Flask('x'))\n"
        "health.add_check(lambda: (True, 'ok'), name='ok')\n"
        "health.run()"
    )
    assert loaded == ["flask", "werkzeug"]


def test_public_names_resolve() -> None:
    for name in flask_healthcheck.__all__:
        assert getattr(flask_healthcheck, name) is not None


def test_py_typed_ships_in_the_package() -> None:
    assert resources.files("flask_healthcheck").joinpath("py.typed").is_file()
    pyproject = (ROOT / "pyproject.toml").read_text()
    package_data = pyproject.split("[tool.setuptools.package-data]\n", 1)[1].split("\n\n", 1)[0]
    assert re.search(r'^flask_healthcheck = \[.*"py\.typed".*\]$', package_data, re.MULTILINE)


def test_core_depends_on_flask_only() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dependencies = ["flask>=3.0"]' in pyproject.splitlines()


DECORATED = """
from __future__ import annotations

from flask_healthcheck import HealthCheck

health = HealthCheck()


@health.check
def bare() -> tuple[bool, str]:
    return True, ""


@health.check(name="configured", timeout=1.0, tags=["ready"])
async def configured(flag: int = 0) -> tuple[bool, str]:
    return True, ""


reveal_type(bare)
reveal_type(configured)
"""


def test_decorator_keeps_the_signature_for_type_checkers(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(DECORATED)

    completed = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir=/dev/null",
         "--config-file=", str(snippet)],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip

    assert completed.returncode == 0, completed.stdout
    revealed = [
        text.replace("builtins.", "")
        for text in re.findall(r'Revealed type is "(.*)"', completed.stdout)
    ]
    assert revealed == [
        "def () -> tuple[bool, str]",
        "def (flag: int =) -> typing.Coroutine[Any, Any, tuple[bool, str]]",
    ]
