"""Every code example in the docs and the README, run for real.

Where examples come from
    ``docs/**/*.rst``: every ``.. code-block:: LANGUAGE`` directive, at any indentation, and
    every ``::`` literal block; ``README.md``: every fenced block. A literal block is never
    Python: a Python example says ``.. code-block:: python``, so that it runs here
    (:func:`test_literal_blocks_are_not_python` holds that line). An example that cannot run by
    nature (a gunicorn hook, shell, YAML) names its own language.

How a Python example runs
    As a fresh module ``docs_example``: its code is written to ``docs_example.py`` in a new
    temporary directory, which is the working directory (so ``Flask(__name__)`` roots the app
    there, and a Celery worker can import it), and executed in the module's namespace, which is
    in ``sys.modules`` meanwhile. Then every Flask app with a ``HealthCheck`` that the example
    made, at module level or through a ``create_app()`` without arguments, is asked for its full
    report through its test client, and must answer its success status. :data:`EXPECTATIONS`
    says otherwise for an example that shows a failure, and asks more of most: other
    endpoints, the outputs of checks, what a real server, worker or process does with the
    example. Two registration snippets stop at checking what they registered: one whose hosts
    are made up (``flower:5555``), one whose critical check wants two Celery workers.

The gunicorn hook
    lifecycle.rst's ``post_worker_init`` hook is a gunicorn configuration file, a ``text``
    block there; :func:`test_gunicorn_hook_drains_each_worker_of_a_preloaded_app` runs it under
    a real ``gunicorn --preload``.

Services
    An example that names a service on this machine (``localhost:6379``, ``localhost:5672``...)
    runs against it, the real one; :func:`tests.services.require` skips the example when the
    service is down, and fails it under ``CI=true``.

Prelude
    Only the README's quick start, which must stay ten lines, uses names it does not define:
    ``db`` and ``text``, as in the reader's own app. :data:`PRELUDES` gives them for real: a
    Flask-SQLAlchemy ``db`` on an SQLite file, bound to the example's app once it ran.

YAML and JSON
    Every ``yaml`` block must parse (PyYAML comes with the ``dev`` extra), and so must every
    ``json`` block.
"""

from __future__ import annotations

import ast
import contextlib
import gzip
import http.server
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.engine import Engine

from .parsing import parse
from .services import (
    MARIADB,
    POSTGRES,
    RABBITMQ,
    REDIS,
    Service,
    free_port,
    require,
    skip_or_fail,
)

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"

PYTHON = frozenset({"python", "py", "python3", "py3"})
#: Languages a code block may name; anything else is probably a typo.
LANGUAGES = PYTHON | {"yaml", "json", "console", "text", "ini", "toml", "sh", "shell", "none"}
#: The module an example runs as.
MODULE = "docs_example"

Namespace = dict[str, Any]


# -- finding the examples -------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One code block: where it is, its language (``::`` for a literal block) and its text."""

    source: str  # path relative to the repository
    line: int  # 1-based line of its first line of code
    language: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.source}:{self.line}"


_CODE_BLOCK = re.compile(r"^(?P<indent>\s*)\.\. code-block::\s*(?P<language>\S*)\s*$")
_DIRECTIVE = re.compile(r"^\s*\.\.\s+[\w:-]+::")
_FENCE = re.compile(r"^```(?P<language>\S*)\s*$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _body(lines: list[str], start: int, parent_indent: int) -> tuple[int, int]:
    """The indented body after line *start*: its first line and its end, blank lines trimmed."""
    index = start
    while index < len(lines) and not lines[index].strip():
        index += 1
    first = index
    while index < len(lines) and (
        not lines[index].strip() or _indent(lines[index]) > parent_indent
    ):
        index += 1
    end = index
    while end > first and not lines[end - 1].strip():
        end -= 1
    return first, end


def rst_blocks(path: Path) -> list[Block]:
    """The ``code-block`` directives and ``::`` literal blocks of one reST file."""
    source = str(path.relative_to(ROOT))
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        directive = _CODE_BLOCK.match(line)
        literal = line.rstrip().endswith("::") and not _DIRECTIVE.match(line)
        if not directive and not literal:
            index += 1
            continue
        indent = _indent(line)
        index += 1
        if directive:
            while index < len(lines) and lines[index].strip().startswith(":"):
                index += 1  # the directive's options (:caption:, :emphasize-lines:, ...)
        first, end = _body(lines, index, indent)
        if first < end:
            code = textwrap.dedent("\n".join(lines[first:end])) + "\n"
            language = directive.group("language") if directive else "::"
            blocks.append(Block(source, first + 1, language, code))
        index = max(end, index)
    return blocks


def markdown_blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file."""
    source = str(path.relative_to(ROOT))
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        index += 1
        if not fence:
            continue
        first = index
        while index < len(lines) and not lines[index].startswith("```"):
            index += 1
        code = "\n".join(lines[first:index]) + "\n"
        blocks.append(Block(source, first + 1, fence.group("language"), code))
        index += 1
    return blocks


def all_blocks() -> list[Block]:
    pages = sorted(path for path in DOCS.rglob("*.rst") if "_build" not in path.parts)
    return [block for page in pages for block in rst_blocks(page)] + markdown_blocks(README)


BLOCKS = all_blocks()
PYTHON_BLOCKS = [block for block in BLOCKS if block.language in PYTHON]


def blocks_in(*languages: str) -> list[Any]:
    return [
        pytest.param(block, id=block.id) for block in BLOCKS if block.language in set(languages)
    ]


# -- what an example must do ----------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """What an example must do beyond running; see the module's docstring.

    *answers*: path -> status code, asked of every app the example made; ``None`` means that
    the full report answers the app's success status, ``{}`` asks nothing. *contains*: path ->
    text the body of that answer contains. *outputs*: check name -> text that its output in the
    full report contains. *environ*: environment variables set while the example runs.
    *setup*: prepares what the example needs before it runs (files in the working directory, a
    server), closing it on the stack it is given; it may return private names (``_name``) for
    *then* to find. *before*: runs after the example and before the requests (to apply the
    migrations the example's app expects, say). *then*: more assertions, after the requests.
    """

    answers: Mapping[str, int] | None = None
    contains: Mapping[str, str] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=dict)
    setup: Callable[[contextlib.ExitStack, pytest.MonkeyPatch], Namespace | None] | None = None
    before: Callable[[Namespace], None] | None = None
    then: Callable[[Namespace], None] | None = None


@dataclass(frozen=True)
class Prelude:
    """Names an example uses without defining them, given for real, and how to bind them."""

    code: str
    bind: Callable[[Namespace, Flask], None]


def _bind_sqlalchemy(namespace: Namespace, app: Flask) -> None:
    app.config.setdefault("SQLALCHEMY_DATABASE_URI", "sqlite:///prelude.db")
    if "sqlalchemy" not in app.extensions:
        namespace["db"].init_app(app)


PRELUDES: dict[str, Prelude] = {
    "README.md": Prelude(
        "from flask_sqlalchemy import SQLAlchemy\nfrom sqlalchemy import text\ndb = SQLAlchemy()\n",
        _bind_sqlalchemy,
    ),
}


def wait_until(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    due = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < due, f"not within {seconds} s: {what}"
        time.sleep(0.05)


def _registered(*names: str) -> Callable[[Namespace], None]:
    def then(namespace: Namespace) -> None:
        assert [spec.name for spec in namespace["health"].checks] == list(names)

    return then


def _first_background_result(namespace: Namespace) -> None:
    health = namespace["health"]
    wait_until(lambda: health.run().passed, 5, "the background check's first result")


# concepts, configuration, security, lifecycle


def _config_wins_over_arguments(namespace: Namespace) -> None:
    settings = namespace["health"].state(namespace["app"]).settings
    assert (settings.timeout, settings.deadline) == (1.5, 5.0)


def _details_only_with_the_token(namespace: Namespace) -> None:
    client = namespace["app"].test_client()
    url = "/healthz/payments?verbose"
    public = client.get(url).get_data(as_text=True)
    assert public == (
        "[-]payments failed: raised ConnectionError (details withheld)\npayments check failed\n"
    )
    authorised = client.get(url, headers={"Authorization": "Bearer docs-token"})
    assert authorised.get_data(as_text=True) == (
        "[-]payments failed: raised ConnectionError: cannot reach "
        "https://shop:***@payments.internal/v1\npayments check failed\n"
    )
    guess = client.get("/healthz/payments", headers={"Authorization": "Bearer guess"})
    assert (guess.status_code, guess.get_json()) == (
        401,
        {"status": "failure", "error": "invalid token"},
    )


def _environment_only_with_the_token(namespace: Namespace) -> None:
    client = namespace["app"].test_client()
    assert client.get("/environment").status_code == 401
    response = client.get("/environment", headers={"Authorization": "Bearer docs-token"})
    assert response.status_code == 200
    dump = response.get_json()
    assert list(dump) == ["os", "python", "config", "process", "application"]
    assert dump["application"] == {"maintainer": "billing-team", "deployed_by": "release-bot"}
    assert dump["config"]["HEALTHCHECK_TOKEN"] == "***"
    assert "environ" not in dump["process"]
    assert "docs-token" not in response.get_data(as_text=True)


def _pages_on_readiness_change(namespace: Namespace) -> None:
    app, health = namespace["app"], namespace["health"]
    alerts: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: alerts.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("alerts").addHandler(handler)
    try:
        health.set_ready(False, "maintenance")
        assert app.test_client().get("/healthz/ready").status_code == 503
    finally:
        logging.getLogger("alerts").removeHandler(handler)
    assert alerts == ["ready failing: failing: readiness"], alerts


def _probe_port_answers(namespace: Namespace) -> None:
    from flask_healthcheck.http_probe import fetch

    server = namespace["health"].serve_probe_port(namespace["app"])  # the one init_app started
    try:
        for path in ("/live", "/healthz/ready", "/startup"):
            assert fetch(f"http://127.0.0.1:{server.port}{path}", 5).status == 200, path
        assert fetch(f"http://127.0.0.1:{server.port}/", 5).status == 404
    finally:
        server.close()


# nagios, migrating


def _nagios_line(namespace: Namespace) -> None:
    assert namespace["line"].startswith("HEALTHCHECK OK - 1 check passed | 'database'=")
    assert namespace["exit_code"] == 0


def _py_healthcheck_answers(namespace: Namespace) -> None:
    """The "before" of the migration guide is real py-healthcheck code."""
    response = namespace["app"].test_client().get("/healthcheck")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "success"
    assert [result["checker"] for result in body["results"]] == ["redis_available"]


def _open_event_server_port_is_true(namespace: Namespace) -> None:
    """What the migration guide says of the port: the line as it was, without ``text()``,
    would report the database down while it is up."""
    app, health, db = namespace["app"], namespace["health"], namespace["db"]

    def literal() -> tuple[bool, str]:
        try:
            db.session.execute("SELECT 1")  # the original line, on SQLAlchemy 2
            return True, "database ok"
        except Exception:
            return False, "Error connecting to database"

    health.add_check(literal, name="unported")
    with app.app_context():
        [result] = health.run(["unported"]).results
    assert (result.passed, result.output) == (False, "Error connecting to database")


def _recipes_answer(namespace: Namespace) -> None:
    client = namespace["app"].test_client()
    assert client.get("/healthcheck").headers["X-Service"] == "billing"
    assert client.get("/healthcheck/live?format=json").headers["X-Service"] == "billing"
    assert "X-Service" not in client.get("/healthcheck/live").headers  # the fast path
    assert client.get("/status").get_json() == {"ok": True, "failing": []}
    assert client.get("/version").get_json()["version"] == "2.4.1"


# prometheus


def _in_the_global_registry(*apps: str) -> Callable[[Namespace], None]:
    """The example's apps' series are in ``prometheus_client.REGISTRY``; then take them out."""

    def then(namespace: Namespace) -> None:
        from prometheus_client import REGISTRY, generate_latest

        health = namespace["health"]
        try:
            exposition = generate_latest(REGISTRY).decode()
        finally:
            for name in apps:
                health.metrics(namespace[name]).unregister(REGISTRY)
        for name in apps:
            app = namespace[name]
            assert app.test_client().get("/healthz/metrics").status_code == (
                200 if app.config["HEALTHCHECK_METRICS"] else 404
            )
            label = f'app="{name}",' if len(apps) > 1 else ""
            assert f'healthcheck_responses_total{{{label}code="200",endpoint="report"}} 1.0' in (
                exposition
            ), exposition

    return then


# alembic


def _flask_migrate_upgrade(namespace: Namespace) -> None:
    """``flask db init``, ``flask db migrate`` and ``flask db upgrade``, as a project has done."""
    import flask_migrate

    with namespace["app"].app_context():
        flask_migrate.init()
        flask_migrate.migrate(message="create user")
        flask_migrate.upgrade()


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config("alembic.ini")
    config.set_main_option("sqlalchemy.url", "sqlite:///app.db")
    return config


def _alembic_init(stack: contextlib.ExitStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """``alembic init alembic``: the project's alembic.ini and migration scripts."""
    from alembic import command

    command.init(_alembic_config(), "alembic")


def _alembic_upgrade(namespace: Namespace) -> None:
    """A first migration that creates the models' tables, applied with ``alembic upgrade``."""
    from alembic import command

    config = _alembic_config()
    command.revision(config, message="create users")
    command.upgrade(config, "head")
    namespace["Base"].metadata.create_all(namespace["engine"])  # what that migration does


def _models_compared_often(stack: contextlib.ExitStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The models comparison runs in the background every minute; in these examples, often."""
    from flask_healthcheck.contrib.alembic import ModelsCheck

    monkeypatch.setattr(ModelsCheck, "period", 0.2)


def _alembic_init_and_compare_often(
    stack: contextlib.ExitStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    _alembic_init(stack, monkeypatch)
    _models_compared_often(stack, monkeypatch)


def _and_models_compared_again(apply: Callable[[Namespace], None]) -> Callable[[Namespace], None]:
    """*apply* the migrations, then wait for a models comparison started after them."""

    def before(namespace: Namespace) -> None:
        apply(namespace)
        since = time.time()
        client = namespace["app"].test_client()

        def compared() -> bool:
            (result,) = client.get("/healthz/models").get_json()["results"]
            started = result["timestamp"] - result["response_time"]
            return not result["output"].startswith("unknown") and started >= since

        wait_until(compared, 15, "a models comparison after the migrations")

    return before


# celery


def _worker_probes_installed(namespace: Namespace) -> None:
    from flask_healthcheck.contrib.celery_worker import WorkerLivenessStep

    assert WorkerLivenessStep in namespace["celery_app"].steps["worker"]


def _worker_command(*args: str, environment: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).parent / "flask-healthcheck"
    return subprocess.run(
        [str(command), "worker", *args],
        env=dict(environment),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _celery_worker_keeps_its_probe_files(namespace: Namespace) -> None:
    """Start a real worker of the example's Celery app, probe it as the page says, stop it."""
    directory = Path.cwd()
    tag = uuid.uuid4().hex[:12]
    name = f"docs-{tag}@{socket.gethostname()}"
    readiness_file = directory / "worker.ready"
    environment = {
        **os.environ,
        "HEALTHCHECK_CELERY_LIVENESS_FILE": str(directory / "worker.live"),
        "HEALTHCHECK_CELERY_READINESS_FILE": str(readiness_file),
        "PYTHONPATH": str(directory),
    }
    log = directory / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                f"{MODULE}.celery_app",
                "worker",
                "--pool",
                "solo",
                "-n",
                name,
                "-Q",
                f"docs-{tag}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=directory,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(
            lambda: readiness_file.exists() or worker.poll() is not None, 30, "the worker ready"
        )
        assert worker.poll() is None, log.read_text()
        probe = _worker_command(
            "--liveness", "--readiness", "--max-age", "90", environment=environment
        )
        assert probe.returncode == 0, probe.stderr
        assert probe.stdout.startswith("ok: liveness file "), probe.stdout
        broker = namespace["BROKER_URL"]
        ping = _worker_command(
            "--ping", "--broker", broker, "--worker-name", name, environment=environment
        )
        assert ping.returncode == 0, ping.stderr
        health = namespace["health"]
        wait_until(lambda: health.run(["celery_workers"]).passed, 15, "the workers check passes")
    finally:
        worker.send_signal(signal.SIGTERM)
        # The worker's loop sees the signal when it next wakes, which with no timer due for
        # 30 s is up to 10 s later; a ping through the broker wakes it now.
        with contextlib.suppress(Exception):
            namespace["celery_app"].control.ping([name], timeout=0.5)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
    assert not readiness_file.exists(), "a warm shutdown removes the readiness file"


# sentry


class SentryIngest(http.server.ThreadingHTTPServer):
    """A local server that takes the envelopes a Sentry client sends, as sentry.io would."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []
        super().__init__(("127.0.0.1", 0), _EnvelopeHandler)

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self.server_address[1]}/1"

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [payload for item_type, payload in list(self.items) if item_type == kind]


class _EnvelopeHandler(http.server.BaseHTTPRequestHandler):
    server: SentryIngest

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        elif self.headers.get("Content-Encoding") == "br":
            import brotli  # type: ignore[import-not-found]

            body = brotli.decompress(body)
        lines = body.decode().splitlines()[1:]  # after the envelope's header, item by item
        for header, payload in zip(lines[::2], lines[1::2], strict=False):
            self.server.items.append((json.loads(header)["type"], json.loads(payload)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _sentry_ingest(stack: contextlib.ExitStack, monkeypatch: pytest.MonkeyPatch) -> Namespace:
    ingest = SentryIngest()
    threading.Thread(target=ingest.serve_forever, daemon=True).start()
    stack.callback(ingest.server_close)
    stack.callback(ingest.shutdown)
    monkeypatch.setenv("SENTRY_DSN", ingest.dsn)
    return {"_ingest": ingest}


def _sentry_gets_one_event_per_failure(namespace: Namespace) -> None:
    import sentry_sdk

    ingest: SentryIngest = namespace["_ingest"]
    app, health = namespace["app"], namespace["health"]

    def session_store() -> tuple[bool, str]:
        raise ConnectionError("cannot reach redis://:pw-7f3a9c@sessions:6379/0")

    health.add_check(session_store, critical=False, failed_ttl=0)  # runs on every request
    client = app.test_client()
    for _ in range(3):
        assert client.get("/healthz").status_code == 200

    def events() -> list[dict[str, Any]]:
        sentry_sdk.flush(1)
        return ingest.of_type("event")

    # An event leaves from the check's thread after it has answered, then from the client's.
    wait_until(lambda: bool(events()), 5, "an event")
    time.sleep(0.2)
    sent = events()
    assert [event["tags"]["healthcheck.check"] for event in sent] == ["session_store"]
    assert sent[0]["exception"]["values"][0]["type"] == "ConnectionError"
    # (not "secret": the event lists the installed packages, and SecretStorage is one)
    assert "pw-7f3a9c" not in json.dumps(sent[0])
    assert ingest.of_type("transaction") == [], "probes are not performance transactions"


_ALL_ENDPOINTS = ("/healthz", "/healthz/ready", "/healthz/live", "/healthz/startup")
_MIGRATED = {
    "migrations": "database is at the head revision",
    "models": "models match the database schema",
}

#: (page, text found in exactly one Python block of that page) -> what that example must do.
EXPECTATIONS: dict[tuple[str, str], Expect] = {
    ("README.md", "def database"): Expect(
        answers=dict.fromkeys((*_ALL_ENDPOINTS, "/healthz/database"), 200),
        outputs={"database": "database ok"},
    ),
    ("docs/quickstart.rst", "def disk_space"): Expect(
        answers=dict.fromkeys(_ALL_ENDPOINTS, 200),
        outputs={"database": "database ok", "disk_space": "GiB free"},
    ),
    ("docs/quickstart.rst", "def create_app"): Expect(
        outputs={"configuration": "configuration loaded"}
    ),
    ("docs/quickstart.rst", '"/health-check"'): Expect(answers={"/health-check": 200}),
    ("docs/concepts.rst", "def settings_file"): Expect(
        answers={"/healthz": 503},
        outputs={
            "settings_file": "settings.json cannot be read",
            "search": "search index answers",
            "disk": "% used",
        },
    ),
    ("docs/concepts.rst", "time_left()"): Expect(
        outputs={"redis_port": "redis accepts connections"}
    ),
    ("docs/concepts.rst", "health.set_live(False"): Expect(
        answers={"/healthz/ready": 200, "/healthz/live": 503},
        contains={"/healthz/live": "event loop stuck"},
    ),
    ("docs/configuration.rst", "HEALTHCHECK_DEADLINE"): Expect(then=_config_wins_over_arguments),
    ("docs/security.rst", "EnvironmentDump(app"): Expect(
        environ={"HEALTHCHECK_TOKEN": "docs-token", "DEPLOYER": "release-bot"},
        then=_environment_only_with_the_token,
    ),
    ("docs/security.rst", "def payments"): Expect(
        environ={"HEALTHCHECK_TOKEN": "docs-token"},
        answers={"/healthz": 503},
        then=_details_only_with_the_token,
    ),
    ("docs/lifecycle.rst", "period=10"): Expect(
        before=_first_background_result, outputs={"disk_space": "GiB free"}
    ),
    ("docs/lifecycle.rst", "@health.on_change"): Expect(then=_pages_on_readiness_change),
    ("docs/integrations/sentry.rst", "cron=True"): Expect(
        before=_first_background_result, outputs={"database": "ok"}
    ),
    ("docs/probe-port.rst", "HEALTHCHECK_PROBE_PORT"): Expect(then=_probe_port_answers),
    ("docs/nagios.rst", "from_report"): Expect(then=_nagios_line),
    ("docs/celery.rst", "install_worker_probes(celery_app, interval=30)"): Expect(
        outputs={"celery_broker": "answered in"},
        then=_celery_worker_keeps_its_probe_files,
    ),
    ("docs/prometheus.rst", "health.metrics(app).register(REGISTRY)"): Expect(
        then=_in_the_global_registry("app")
    ),
    ("docs/prometheus.rst", 'labels={"app": "api"}'): Expect(
        then=_in_the_global_registry("api", "admin")
    ),
    ("docs/migrating.rst", 'def health_check_db():\n    return True, "database ok"'): Expect(
        answers={"/health-check": 200}, outputs={"health_check_db": "database ok"}
    ),
    ("docs/migrating.rst", "view_func=health.check)"): Expect(
        answers={"/hc": 200, "/healthz": 200},
        contains={"/hc": '"output": {"lag_seconds": 0.4, "replicas": 2}'},
    ),
    ("docs/migrating.rst", 'text("SELECT 1"))  # was'): Expect(
        answers={"/health-check": 200},
        outputs={"health_check_db": "database ok"},
        then=_open_event_server_port_is_true,
    ),
    ("docs/migrating.rst", 'raise CheckError("Error connecting to database")'): Expect(
        answers={"/health-check": 200}, outputs={"health_check_db": "database ok"}
    ),
    ("docs/migrating.rst", "health = HealthCheck(success_ttl=27"): Expect(
        then=_py_healthcheck_answers
    ),
    ("docs/migrating.rst", 'HealthCheck(app, "/healthcheck", success_ttl=27'): Expect(
        outputs={"redis_available": "redis ok"}
    ),
    ("docs/migrating.rst", "def health_headers"): Expect(then=_recipes_answer),
    ("docs/integrations/alembic.rst", "Migrate(app, db)"): Expect(
        setup=_models_compared_often,
        before=_and_models_compared_again(_flask_migrate_upgrade),
        outputs=_MIGRATED,
    ),
    ("docs/integrations/alembic.rst", '"alembic.ini"'): Expect(
        setup=_alembic_init_and_compare_often,
        before=_and_models_compared_again(_alembic_upgrade),
        outputs=_MIGRATED,
    ),
    # Whether a worker answers or not, the workers check is not critical: the app answers 200.
    ("docs/integrations/celery.rst", "CeleryBrokerCheck(celery_app)"): Expect(
        outputs={"celery_broker": "answered in", "celery_queues": "pending tasks"}
    ),
    ("docs/integrations/celery.rst", "min_workers=2"): Expect(
        answers={}, then=_registered("celery_workers", "emails_queue")
    ),
    ("docs/integrations/celery_worker.rst", "install_worker_probes(celery_app)"): Expect(
        then=_worker_probes_installed
    ),
    # The host and the files are made up: what is registered counts.
    ("docs/integrations/certificates.rst", 'files=["/etc/app/tls/client.pem"'): Expect(
        answers={}, then=_registered("certificate:payments", "certificate:client")
    ),
    # The hosts are made up (flower, api.internal, smtp.internal): what is registered counts.
    ("docs/integrations/network.rst", "HttpCheck("): Expect(
        answers={}, then=_registered("flower", "api", "smtp")
    ),
    ("docs/integrations/redis.rst", "cache = redis.Redis"): Expect(
        outputs={"redis": "answered PING and SET/GET in"}
    ),
    ("docs/integrations/redis.rst", "SESSION_REDIS_URL"): Expect(
        outputs={"redis": "answered PING and SET/GET in", "sessions": "answered PING"}
    ),
    ("docs/integrations/sentry.rst", "sentry_sdk.init"): Expect(
        setup=_sentry_ingest, then=_sentry_gets_one_event_per_failure
    ),
    ("docs/integrations/sqlalchemy.rst", "ModelCheck(User, db"): Expect(
        outputs={"database": "answered in", "model:user": "inserted, read, updated and deleted"}
    ),
    ("docs/integrations/sqlalchemy.rst", "reports_engine"): Expect(
        outputs={"database": "answered in", "databases": "primary: answered in"}
    ),
    ("docs/integrations/sqlalchemy.rst", "SQLALCHEMY_ENGINE_OPTIONS"): Expect(
        outputs={"database": "answered in"}
    ),
    ("docs/integrations/storage.rst", "memory://scratch"): Expect(
        outputs={"storage": "wrote, read back and deleted a probe file", "scratch": "wrote"}
    ),
    ("docs/integrations/storage.rst", "UPLOAD_FOLDER"): Expect(
        outputs={"storage": "storage not configured"}
    ),
    ("docs/integrations/system.rst", "CpuCheck(), period=15"): Expect(
        before=_first_background_result,
        outputs={"disk": "% used", "memory": "% used", "cpu": "over the last"},
    ),
}


def expectation(block: Block) -> Expect:
    found = [
        expect
        for (source, marker), expect in EXPECTATIONS.items()
        if source == block.source and marker in block.code
    ]
    assert len(found) <= 1, f"{block.id}: more than one expectation matches"
    return found[0] if found else Expect()


# -- running an example ---------------------------------------------------------------------------

_LOCAL_PORT = re.compile(r"(?:localhost|127\.0\.0\.1):(?P<port>\d+)")
_SERVICES = {service.port: service for service in (POSTGRES, MARIADB, REDIS, RABBITMQ)}


def required_services(code: str) -> list[Service]:
    """The services on this machine that *code* names by their port."""
    ports = {int(match.group("port")) for match in _LOCAL_PORT.finditer(code)}
    return [_SERVICES[port] for port in sorted(ports) if port in _SERVICES]


def _run(code: str, filename: str, namespace: Namespace) -> None:
    # dont_inherit: the example gets none of this file's __future__ imports.
    exec(compile(code, filename, "exec", dont_inherit=True), namespace)


@contextlib.contextmanager
def example_module(block: Block) -> Iterator[Namespace]:
    """The namespace of the module ``docs_example``: in ``sys.modules`` while the example
    runs (SQLAlchemy resolves a model's annotations through it), and a file in the working
    directory (for a process the example starts, such as a Celery worker)."""
    path = Path.cwd() / f"{MODULE}.py"
    path.write_text(block.code)
    module = types.ModuleType(MODULE)
    module.__file__ = str(path)
    sys.modules[MODULE] = module
    try:
        prelude = PRELUDES.get(block.source)
        if prelude is not None:
            _run(prelude.code, f"<prelude of {block.source}>", module.__dict__)
        yield module.__dict__
    finally:
        del sys.modules[MODULE]


def apps_of(namespace: Namespace) -> list[Flask]:
    """The Flask apps with a HealthCheck an example made, or that its ``create_app()`` makes."""
    apps = [
        value
        for name, value in namespace.items()
        if isinstance(value, Flask) and not name.startswith("_")
    ]
    factory = namespace.get("create_app")
    if callable(factory):
        apps.append(factory())
    return [app for app in dict.fromkeys(apps) if "healthcheck" in app.extensions]


def report_path(app: Flask) -> str:
    return str(app.config["HEALTHCHECK_PATH"])


def check_answers(block: Block, app: Flask, expect: Expect) -> None:
    client = app.test_client()
    answers = expect.answers
    if answers is None:
        answers = {report_path(app): app.config["HEALTHCHECK_SUCCESS_STATUS"]}
    for path, status in answers.items():
        response = client.get(path)
        body = response.get_data(as_text=True)
        assert response.status_code == status, (
            f"{block.id}: GET {path} answered {response.status_code}, expected {status}:\n{body}"
        )
        if path in expect.contains:
            assert expect.contains[path] in body, f"{block.id}: GET {path}: {body}"
    if expect.outputs:
        report = client.get(report_path(app)).get_json()
        outputs = {result["checker"]: result["output"] for result in report["results"]}
        for name, text in expect.outputs.items():
            assert name in outputs, f"{block.id}: no check {name!r} in {sorted(outputs)}"
            assert text in outputs[name], f"{block.id}: {name}: {outputs[name]!r}"


def close_resources(namespace: Namespace, apps: list[Flask]) -> None:
    """Close what the example's checks, engines and Sentry client hold open."""
    for app in apps:
        for spec in app.extensions["healthcheck"].checks:
            close = getattr(spec.func, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):
                    close()
        db = app.extensions.get("sqlalchemy")
        if db is not None:
            with app.app_context():
                for engine in db.engines.values():
                    engine.dispose()
    for value in namespace.values():
        if isinstance(value, Engine):
            value.dispose()
    if "sentry_sdk" in sys.modules:
        import sentry_sdk

        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)


@contextlib.contextmanager
def logging_as_it_was() -> Iterator[None]:
    """Put logging back as it was: Alembic's ``env.py``, which the migration examples run,
    calls ``logging.config.fileConfig``, which disables every logger it does not name (the
    library's too, for the rest of the test session) and adds handlers of its own."""
    manager = logging.Logger.manager
    loggers = {
        name: logger
        for name, logger in manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    saved = {
        name: (logger.disabled, logger.level, list(logger.handlers), logger.propagate)
        for name, logger in loggers.items()
    }
    root = logging.getLogger()
    root_level, root_handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        for name, logger in list(manager.loggerDict.items()):
            if not isinstance(logger, logging.Logger):
                continue
            disabled, level, handlers, propagate = saved.get(
                name, (False, logging.NOTSET, [], True)
            )
            for handler in logger.handlers:
                if handler not in handlers:
                    handler.close()
            logger.disabled, logger.propagate = disabled, propagate
            logger.setLevel(level)
            logger.handlers[:] = handlers
        for handler in root.handlers:
            if handler not in root_handlers:
                handler.close()
        root.setLevel(root_level)
        root.handlers[:] = root_handlers


def run_example(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    for service in required_services(block.code):
        require(service)
    expect = expectation(block)
    for name, value in expect.environ.items():
        monkeypatch.setenv(name, value)
    with (
        logging_as_it_was(),
        contextlib.ExitStack() as stack,
        example_module(block) as namespace,
    ):
        if expect.setup is not None:
            namespace.update(expect.setup(stack, monkeypatch) or {})
        _run(block.code, block.id, namespace)
        apps = apps_of(namespace)
        try:
            prelude = PRELUDES.get(block.source)
            for app in apps:
                if prelude is not None:
                    prelude.bind(namespace, app)
            if expect.before is not None:
                expect.before(namespace)
            for app in apps:
                check_answers(block, app, expect)
            if expect.then is not None:
                expect.then(namespace)
        finally:
            close_resources(namespace, apps)


# -- the tests ------------------------------------------------------------------------------------


def test_examples_are_found() -> None:
    sources = {block.source for block in PYTHON_BLOCKS}
    assert {"README.md", "docs/quickstart.rst", "docs/integrations/celery.rst"} <= sources
    assert len(PYTHON_BLOCKS) >= 30, [block.id for block in PYTHON_BLOCKS]


def test_every_expectation_matches_exactly_one_example() -> None:
    for source, marker in EXPECTATIONS:
        matches = [b.id for b in PYTHON_BLOCKS if b.source == source and marker in b.code]
        assert len(matches) == 1, f"{source}: {marker!r} matches {matches or 'no example'}"


def test_code_blocks_name_a_known_language() -> None:
    unknown = [
        f"{block.id}: {block.language!r}"
        for block in BLOCKS
        if block.language != "::" and block.language not in LANGUAGES
    ]
    assert not unknown, "code blocks without a known language:\n" + "\n".join(unknown)


def _is_python(code: str) -> bool:
    try:
        tree = parse(code)
    except SyntaxError:
        return False
    # A lone word or number parses too; only statements that do something are code.
    return any(
        not isinstance(node, ast.Expr) or not isinstance(node.value, ast.Name | ast.Constant)
        for node in tree.body
    )


def test_literal_blocks_are_not_python() -> None:
    python = [block.id for block in BLOCKS if block.language == "::" and _is_python(block.code)]
    assert not python, (
        "these '::' blocks are Python: make them '.. code-block:: python' so that they run "
        f"in this test: {python}"
    )


_GUNICORN_APP = """
from flask import Flask

from flask_healthcheck import HealthCheck

app = Flask(__name__)
app.config["HEALTHCHECK_DRAIN_SECONDS"] = 2
health = HealthCheck(app)
"""


def test_gunicorn_hook_drains_each_worker_of_a_preloaded_app(tmp_path: Path) -> None:
    """The ``post_worker_init`` hook of lifecycle.rst (a ``text`` block there, since it is a
    gunicorn configuration file) under a real ``gunicorn --preload``: on SIGTERM the worker's
    readiness says "draining" while liveness stays up, then the worker and the master exit."""
    (hook,) = [
        block
        for block in BLOCKS
        if block.source == "docs/lifecycle.rst" and "def post_worker_init" in block.code
    ]
    (tmp_path / "gunicorn.conf.py").write_text(hook.code)
    (tmp_path / "myapp.py").write_text(_GUNICORN_APP)
    port = free_port()
    base = f"http://127.0.0.1:{port}/healthz"
    log = tmp_path / "gunicorn.log"
    gunicorn = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--preload"]
    with log.open("wb") as output:
        server = subprocess.Popen(
            [*gunicorn, "--workers", "1", "--bind", f"127.0.0.1:{port}", "myapp:app"],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(tmp_path)},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(lambda: _answer(f"{base}/ready")[0] == 200, 30, "gunicorn serves")
        server.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        wait_until(lambda: _answer(f"{base}/ready")[0] == 503, 1.5, "readiness drains")
        assert '"output": "draining"' in _answer(f"{base}/ready")[1]
        assert _answer(f"{base}/live")[0] == 200
        server.wait(15)
        assert time.monotonic() - sent >= 1.5, "the worker left before the drain was over"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)


def _answer(url: str) -> tuple[int | None, str]:
    from flask_healthcheck.http_probe import ProbeError, fetch

    try:
        answer = fetch(url, 2)
    except ProbeError:
        return None, ""
    return answer.status, answer.body.decode()


# Flask-Migrate's env.py template, which the alembic example writes, calls a deprecated method.
@pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")
@pytest.mark.parametrize("block", blocks_in(*PYTHON))
def test_python_example_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run_example(block, monkeypatch)


@pytest.mark.parametrize("block", blocks_in("json"))
def test_json_example_parses(block: Block) -> None:
    json.loads(block.code)


@pytest.mark.parametrize("block", blocks_in("yaml"))
def test_yaml_example_parses(block: Block) -> None:
    try:
        import yaml
    except ImportError:
        skip_or_fail("PyYAML is not installed (the dev extra brings it)")
        return
    assert list(yaml.safe_load_all(block.code)), f"{block.id}: no YAML document"
