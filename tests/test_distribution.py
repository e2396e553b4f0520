"""What ``pip install flask-health-checks`` gets: the wheel and the sdist, built from this tree,
with the right files and metadata, installed into a clean virtual environment with only Flask.

The clean environment installs Flask from the package index (pip's cache keeps it quick).
"""

from __future__ import annotations

import email.parser
import json
import os
import subprocess
import tarfile
import venv
import zipfile
from email.message import Message
from pathlib import Path

import pytest

import flask_healthcheck

from .wheels import PACKAGE, ROOT, STEM, build

NAME = "flask-health-checks"
#: The extras users install; ``dev`` and ``sample`` are dependency groups, never published.
EXTRAS = {
    "sqlalchemy",
    "alembic",
    "redis",
    "celery",
    "sentry",
    "psutil",
    "prometheus",
    "fsspec",
    "fleet",
    "opentelemetry",
    "lint",
}
#: Integration modules with the extra each needs (``None``: the standard library is enough).
CONTRIB = {
    "alembic": "alembic",
    "celery": "celery",
    "celery_worker": "celery",
    "certificates": None,
    "network": None,
    "opentelemetry": "opentelemetry",
    "redis": "redis",
    "sqlalchemy": "sqlalchemy",
    "storage": None,
    "system": "psutil",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build(tmp_path_factory.mktemp("build"))


def package_files() -> set[str]:
    """The files of the package in the repository, as paths relative to the repository."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def wheel_metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(f"{STEM}.dist-info/METADATA").decode()
    return email.parser.Parser().parsestr(text)


def test_the_wheel_holds_the_package_its_licence_and_entry_points(built: dict[str, Path]) -> None:
    with zipfile.ZipFile(built["wheel"]) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(f"{STEM}.dist-info/entry_points.txt").decode()
    assert {name for name in names if not name.startswith(f"{STEM}.dist-info/")} == (
        package_files()
    )
    assert "flask_healthcheck/py.typed" in names
    assert f"{STEM}.dist-info/licenses/LICENSE" in names
    assert "flask-healthcheck = flask_healthcheck.console:main" in entry_points
    assert "healthcheck = flask_healthcheck.cli:healthcheck" in entry_points


def test_the_sdist_holds_what_builds_the_wheel_and_leaves_the_tests_out(
    built: dict[str, Path],
) -> None:
    with tarfile.open(built["sdist"]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    files = {name for name in names if not name.startswith(f"{NAME.replace('-', '_')}.egg-info")}
    assert package_files() <= files
    assert {"LICENSE", "README.md", "CHANGES.rst", "pyproject.toml", "PKG-INFO"} <= files
    # The tests need the sample app and real services: they stay in the repository.
    assert not {name for name in files if name.startswith(("tests", "sample_app", "bench"))}
    assert not {name for name in files if ".venv" in name or "__pycache__" in name}


def test_the_metadata_names_the_project_its_licence_extras_and_urls(
    built: dict[str, Path],
) -> None:
    metadata = wheel_metadata(built["wheel"])
    assert metadata["Name"] == NAME
    assert metadata["Version"] == flask_healthcheck.__version__
    assert metadata["License-Expression"] == "MIT"
    assert metadata["Requires-Python"] == ">=3.10"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert set(metadata.get_all("Provides-Extra")) == {*EXTRAS, "all"}
    core = [line for line in metadata.get_all("Requires-Dist") if "extra ==" not in line]
    assert core == ["flask>=3.0"]
    urls = dict(line.split(", ", 1) for line in metadata.get_all("Project-URL"))
    assert {"Documentation", "Source", "Changes", "Issue Tracker"} <= set(urls)
    assert all(url.startswith("https://") for url in urls.values())
    classifiers = set(metadata.get_all("Classifier"))
    assert {"Framework :: Flask", "Typing :: Typed", "Topic :: System :: Monitoring"} <= classifiers
    assert any(line.startswith("Development Status :: ") for line in classifiers)
    assert {f"Programming Language :: Python :: 3.{minor}" for minor in (10, 11, 12, 13)} <= (
        classifiers
    )
    # README.md is the description the package index shows.
    assert metadata.get_payload().strip() == (ROOT / "README.md").read_text().strip()


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory: pytest.TempPathFactory, built: dict[str, Path]) -> Path:
    """A new virtual environment with the wheel installed, and Flask as its only dependency."""
    home = tmp_path_factory.mktemp("clean")
    venv.EnvBuilder(with_pip=True).create(home)
    python = home / "bin" / "python"
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         str(built["wheel"])],
        check=True, env=environment,
    )  # fmt: skip
    return python


def run_in(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    """*code* run by *python* outside the repository, so the working tree is not importable."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(
        [str(python), "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=python.parent,
        env=environment,
    )


def test_the_wheel_installs_with_flask_alone(clean_venv: Path) -> None:
    listed = subprocess.run(
        [str(clean_venv), "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    installed = {package["name"].lower() for package in json.loads(listed.stdout)}
    flask_and_its_own = {"flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click",
                         "blinker"}  # fmt: skip
    assert installed - {"pip", "setuptools"} == {NAME, *flask_and_its_own}


def test_every_public_name_imports_from_the_installed_wheel(clean_venv: Path) -> None:
    code = (
        "import json, flask_healthcheck\n"
        "names = flask_healthcheck.__all__\n"
        "missing = [name for name in names if getattr(flask_healthcheck, name, None) is None]\n"
        "print(json.dumps({'file': flask_healthcheck.__file__, 'names': len(names),\n"
        "                  'missing': missing}))\n"
    )
    result = run_in(clean_venv, code)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert "site-packages" in found["file"]  # the wheel, not the working tree
    assert found["names"] == len(flask_healthcheck.__all__)
    assert found["missing"] == []


def test_an_app_answers_its_probes_from_the_installed_wheel(clean_venv: Path) -> None:
    code = (
        "from flask import Flask\n"
        "from flask_healthcheck import HealthCheck\n"
        "app = Flask('x')\n"
        "health = HealthCheck(app)\n"
        "@health.check\n"
        "def ok():\n"
        "    return True, 'fine'\n"
        "client = app.test_client()\n"
        "report = client.get('/healthz')\n"
        "print(report.status_code, report.json['results'][0]['output'],\n"
        "      client.get('/healthz/live').status_code)\n"
    )
    result = run_in(clean_venv, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "fine", "200"]


@pytest.mark.parametrize(("module", "extra"), sorted(CONTRIB.items()))
def test_an_integration_without_its_extra_names_the_extra_to_install(
    clean_venv: Path, module: str, extra: str | None
) -> None:
    code = f"import flask_healthcheck.contrib.{module}\nprint('imported')"
    result = run_in(clean_venv, code)
    if extra is None:
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "imported"
    else:
        assert result.returncode == 1
        assert "MissingDependencyError" in result.stderr
        assert f"pip install 'flask-health-checks[{extra}]'" in result.stderr


def test_the_command_runs_from_the_installed_wheel(clean_venv: Path) -> None:
    command = clean_venv.parent / "flask-healthcheck"
    result = subprocess.run(
        [str(command), "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"flask-healthcheck {flask_healthcheck.__version__}"


def test_every_integration_module_is_listed_here() -> None:
    modules = {path.stem for path in (PACKAGE / "contrib").glob("*.py")}
    assert {name for name in modules if not name.startswith("_")} == set(CONTRIB)
