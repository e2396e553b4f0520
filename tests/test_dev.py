"""``python3 dev.py run``: what it installs, what it prints, and that what it prints is true."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import dev

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib
from sample_app import create_app

from .sample_env import isolate
from .services import free_port

ROOT = Path(__file__).resolve().parent.parent
#: Tools of the test command that the sample app never needs.
TOOLCHAIN = {"pytest", "mypy", "ruff", "sphinx", "hypothesis", "uwsgi", "twine", "build"}


def requirement_names(group: list[str | dict[str, str]]) -> set[str]:
    names = set()
    for requirement in group:
        if isinstance(requirement, str):
            name = requirement.split(";")[0]
            for mark in "[<>=!~ ":
                name = name.split(mark)[0]
            names.add(name.lower())
    return names


def test_run_installs_the_sample_group_and_test_the_dev_group_which_includes_it() -> None:
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    assert dev.GROUPS == {"run": "sample", "test": "dev"}
    assert {"include-group": "sample"} in groups["dev"]
    assert not requirement_names(groups["sample"]) & TOOLCHAIN
    assert requirement_names(groups["dev"]) >= TOOLCHAIN
    # Never a user-facing extra: the package index would publish it.
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not {"dev", "sample", "test"} & set(extras["optional-dependencies"])


@pytest.mark.parametrize("value", ["", "eighty", "0", "65536", "-1", "80.5"])
def test_a_bad_port_stops_run_naming_the_variable(value: str) -> None:
    with pytest.raises(SystemExit) as caught:
        dev.port_from({"PORT": value})
    assert "PORT must be a port number from 1 to 65535" in str(caught.value.code)
    assert repr(value.strip()) in str(caught.value.code)


def test_the_port_is_5000_unless_port_says_otherwise() -> None:
    assert dev.port_from({}) == 5000
    assert dev.port_from({"PORT": " 8123 "}) == 8123


def test_every_url_the_banner_prints_is_served_by_the_sample_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate(monkeypatch, tmp_path)
    text = dev.banner(5000, {})
    urls = [line.split()[0] for line in text.splitlines() if line.startswith("  http://")]
    assert len(urls) == len(dev.HEALTH_ENDPOINTS) + 1
    assert "Ctrl+C" in text
    client = create_app().test_client()
    # The full report waits for the first background pass of the models check.
    deadline = time.monotonic() + 30
    while client.get("/healthz/startup").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    for url in urls:
        path = url.removeprefix("http://127.0.0.1:5000")
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True))


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_run_serves_on_port_prints_the_banner_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    # "dev.py test" has just installed .venv; a stale one would make "run" install first.
    assert dev._installed() & {"run", "test"}, "pyproject.toml changed: run dev.py test"
    port = free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HEALTHCHECK_", "DATABASE_URL", "REDIS_URL", "CELERY_", "SENTRY_"))
    }
    environment.update(PORT=str(port), SAMPLE_INSTANCE_PATH=str(tmp_path / "instance"))
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "dev.py"), "run"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # As from a terminal: a pytest-xdist worker may ignore SIGINT, and a child would
        # inherit that (an ignored signal stays ignored across exec).
        preexec_fn=_default_sigint,  # noqa: PLW1509 (no thread of ours runs in the child)
    )
    try:
        status = None
        deadline = time.monotonic() + 60
        while status is None and time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/ready", timeout=5):
                    status = 200
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                time.sleep(0.2)
        assert status == 200
    finally:
        server.send_signal(signal.SIGINT)  # what Ctrl+C sends
        try:
            output, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()  # never left behind, whatever went wrong
            server.communicate()
            raise
    assert server.returncode == 0, output
    assert output.startswith(dev.banner(port, {})), output
