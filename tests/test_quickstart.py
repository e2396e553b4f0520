"""The quick start, as a new user follows it: its install command in a fresh virtual
environment, its first example in ``app.py``, served by ``flask --app app run``, answering what
the page shows.

The commands and the code are read from docs/quickstart.rst, not copied, so the page and this
test cannot drift apart. One change is made to the install command: the package is not on the
package index yet, so pip also finds the wheel built from this tree (``--find-links``).
Flask and Flask-SQLAlchemy come from the package index (pip's cache keeps it quick).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
import urllib.error
import urllib.request
import venv
from pathlib import Path

import pytest

from .services import free_port
from .wheels import ROOT, build

PAGE = ROOT / "docs" / "quickstart.rst"


def code_blocks(language: str) -> list[str]:
    """The ``.. code-block:: LANGUAGE`` blocks of the quick start, dedented, in order."""
    blocks = []
    lines = PAGE.read_text().splitlines()
    for index, line in enumerate(lines):
        if line.strip() != f".. code-block:: {language}":
            continue
        body = []
        for following in lines[index + 1 :]:
            if following and not following.startswith(" "):
                break
            body.append(following)
        text = "\n".join(body).strip("\n")
        indent = min(len(row) - len(row.lstrip()) for row in text.splitlines() if row.strip())
        blocks.append("\n".join(row[indent:] for row in text.splitlines()))
    return blocks


def install_command() -> list[str]:
    """The arguments of the page's first ``$ pip install`` line."""
    for block in code_blocks("console"):
        for line in block.splitlines():
            if line.startswith("$ pip install "):
                return shlex.split(line.removeprefix("$ pip install "))
    raise AssertionError("the quick start has no '$ pip install' line")


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a fresh virtual environment (``.venv``) in which the quick start's
    install command ran, and its first example as ``app.py``."""
    home = tmp_path_factory.mktemp("user")
    wheel = build(tmp_path_factory.mktemp("build"))["wheel"]
    venv.EnvBuilder(with_pip=True).create(home / ".venv")
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    subprocess.run(
        [str(home / ".venv" / "bin" / "python"), "-m", "pip", "install", "-q",
         "--disable-pip-version-check", "--find-links", str(wheel.parent), *install_command()],
        check=True, env=environment, cwd=home,
    )  # fmt: skip
    (home / "app.py").write_text(code_blocks("python")[0] + "\n")
    return home


def test_the_install_line_installs_what_the_first_example_imports(user: Path) -> None:
    imports = re.findall(r"^(?:from|import) (\w+)", (user / "app.py").read_text(), re.MULTILINE)
    code = "import " + ", ".join(sorted(set(imports)))
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [str(user / ".venv" / "bin" / "python"), "-c", code],
        capture_output=True, text=True, check=False, cwd=user, env=environment,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert {"flask", "flask_sqlalchemy", "sqlalchemy", "flask_healthcheck"} <= set(imports)


def test_flask_run_serves_what_the_quick_start_shows(user: Path) -> None:
    page = PAGE.read_text()
    assert "``flask --app app run`` (for a file ``app.py``) serves it" in page
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    server = subprocess.Popen(
        [str(user / ".venv" / "bin" / "flask"), "--app", "app", "run", "--port", str(port)],
        cwd=user, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        body = None
        deadline = time.monotonic() + 30
        while body is None and time.monotonic() < deadline and server.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/healthz?verbose"
                with urllib.request.urlopen(url, timeout=5) as response:
                    body = response.read().decode()
            except urllib.error.HTTPError as error:
                body = f"{error.code}: {error.read().decode()}"
            except OSError:
                time.sleep(0.1)
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=10)
    assert body is not None, errors
    # What the page shows for `curl -s 'localhost:5000/healthz?verbose'`, free space aside.
    shown = next(block for block in code_blocks("console") if "healthz?verbose" in block)
    expected = shown.splitlines()[1:]
    lines = body.splitlines()
    assert len(lines) == len(expected), body
    for line, example in zip(lines, expected, strict=True):
        pattern = re.escape(example).replace(r"41\.3", r"[0-9]+\.[0-9]")
        assert re.fullmatch(pattern, line), (line, example)
