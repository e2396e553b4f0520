"""Every code example in the docs and the README, run for real.

Where examples come from
    ``docs/**/*.rst``: every ``.. code-block:: LANGUAGE`` directive, at any indentation, and
    every ``::`` literal block. ``README.md``: every fenced block. A literal block is never
    Python: an example that is Python says ``.. code-block:: python``, so that it runs here
    (:func:`test_literal_blocks_are_not_python` holds that line).

How a Python example runs
    Compiled and executed in a fresh namespace (``__name__`` is ``"docs_example"``, so
    ``Flask(__name__)`` roots the app in the working directory), with the working directory a
    new temporary directory. Then every Flask app the example made, a module-level ``app`` or
    what a ``create_app()`` without arguments returns, is asked for its full report through its
    test client, and must answer its success status. :data:`EXPECTATIONS` says otherwise for
    an example that shows a failure, or asks more of it (other endpoints, check outputs, a
    look at what the example built). Registration snippets without an app only have to run.

Services
    An example that names a service on this machine (``localhost:6379``, ``127.0.0.1:5672``...)
    runs against it, the real one; :func:`tests.services.require` skips the example when the
    service is down, and fails it under ``CI=true``.

Prelude
    Only the README's quick start, which must stay ten lines, uses names it does not define:
    ``db`` and ``text``, as in the reader's own app. :data:`PRELUDES` gives them for real: a
    Flask-SQLAlchemy ``db`` on an SQLite file, bound to the example's app after it ran.

YAML and JSON
    Every ``yaml`` block must parse (PyYAML, from the ``dev`` extra) and every ``json`` block
    too.
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from .services import MARIADB, POSTGRES, RABBITMQ, REDIS, Service, require, skip_or_fail

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"

PYTHON = frozenset({"python", "py", "python3", "py3"})
#: Languages a code block may name; anything else is probably a typo that Pygments would
#: render without highlighting.
LANGUAGES = PYTHON | {"yaml", "json", "console", "text", "ini", "toml", "sh", "shell", "none"}


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


# -- extraction ----------------------------------------------------------------------------------

_CODE_BLOCK = re.compile(r"^(?P<indent>\s*)\.\. code-block::\s*(?P<language>\S*)\s*$")
_DIRECTIVE = re.compile(r"^\s*\.\.\s+[\w:-]+::")
_FENCE = re.compile(r"^```(?P<language>\S*)\s*$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _body(lines: list[str], start: int, parent_indent: int) -> tuple[int, int]:
    """The lines of an indented body after *start*: (first line, end), skipping blank lines."""
    index = start
    while index < len(lines) and not lines[index].strip():
        index += 1
    first = index
    while index < len(lines) and (not lines[index].strip() or _indent(lines[index]) > parent_indent):
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
        literal = (
            not directive
            and line.rstrip().endswith("::")
            and not _DIRECTIVE.match(line)
            and line.strip() != "::"
        ) or line.strip() == "::"
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
        blocks.append(
            Block(source, first + 1, fence.group("language"), "\n".join(lines[first:index]) + "\n")
        )
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


# -- what each example must do --------------------------------------------------------------------

Namespace = dict[str, Any]


@dataclass(frozen=True)
class Expect:
    """What an example must do beyond running: see the module's docstring.

    *answers*: path -> status code, asked of every app the example made; ``None`` means the
    full report answers the app's success status; ``{}`` asks nothing. *contains*: path ->
    text the body of that answer contains. *outputs*: check name -> text its output in the
    full report contains. *before*: runs after the example and before the requests (to apply
    migrations the example's app expects, say). *then*: more assertions on the example's
    namespace, after the requests.
    """

    answers: Mapping[str, int] | None = None
    contains: Mapping[str, str] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    before: Callable[[Namespace], None] | None = None
    then: Callable[[Namespace], None] | None = None


@dataclass(frozen=True)
class Prelude:
    """Names an example uses without defining them, given for real."""

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

#: (page, text found in exactly one Python block of that page) -> what that example must do.
EXPECTATIONS: dict[tuple[str, str], Expect] = {
    ("docs/concepts.rst", "def settings_file"): Expect(
        answers={"/healthz": 503},
        outputs={
            "settings_file": "settings.json cannot be read",
            "search": "search index answers",
        },
    ),
    ("docs/concepts.rst", "health.set_live(False"): Expect(
        answers={"/healthz/ready": 200, "/healthz/live": 503},
        contains={"/healthz/live": "event loop stuck"},
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

#: Where a service appears in an example: its port on this machine.
_LOCAL_PORT = re.compile(r"(?:localhost|127\.0\.0\.1):(?P<port>\d+)")
_SERVICES: dict[int, Service] = {
    service.port: service for service in (POSTGRES, MARIADB, REDIS, RABBITMQ)
}


def required_services(code: str) -> list[Service]:
    ports = {int(match.group("port")) for match in _LOCAL_PORT.finditer(code)}
    return [_SERVICES[port] for port in sorted(ports) if port in _SERVICES]


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
        namespace["_created_app"] = apps[-1]
    return [app for app in dict.fromkeys(apps) if "healthcheck" in app.extensions]


def report_path(app: Flask) -> str:
    return str(app.config["HEALTHCHECK_PATH"])


def close_resources(apps: list[Flask]) -> None:
    """Close what the example's checks and databases hold open, so nothing leaks."""
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
    if "sentry_sdk" in sys.modules:
        import sentry_sdk

        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)


@contextlib.contextmanager
def example_namespace(block: Block) -> Iterator[Namespace]:
    namespace: Namespace = {"__name__": "docs_example", "__file__": block.id}
    prelude = PRELUDES.get(block.source)
    if prelude is not None:
        exec(compile(prelude.code, f"<prelude of {block.source}>", "exec"), namespace)
    yield namespace


def run_example(block: Block) -> None:
    for service in required_services(block.code):
        require(service)
    expect = expectation(block)
    with example_namespace(block) as namespace:
        exec(compile(block.code, block.id, "exec"), namespace)
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
            close_resources(apps)


def check_answers(block: Block, app: Flask, expect: Expect) -> None:
    client = app.test_client()
    success = app.config["HEALTHCHECK_SUCCESS_STATUS"]
    answers = expect.answers
    if answers is None:
        answers = {report_path(app): success}
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


# -- the tests ------------------------------------------------------------------------------------


def test_examples_are_found() -> None:
    sources = {block.source for block in PYTHON_BLOCKS}
    assert "README.md" in sources
    assert "docs/quickstart.rst" in sources
    assert len(PYTHON_BLOCKS) >= 20, [block.id for block in PYTHON_BLOCKS]


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
        tree = ast.parse(code)
    except SyntaxError:
        return False
    # A lone name or constant parses too; only statements that do something are code.
    return any(not isinstance(node, ast.Expr) or not isinstance(node.value, ast.Name | ast.Constant)
               for node in tree.body)


def test_literal_blocks_are_not_python() -> None:
    python = [block.id for block in BLOCKS if block.language == "::" and _is_python(block.code)]
    assert not python, (
        "these '::' blocks are Python: make them '.. code-block:: python' so that they run in "
        f"this test: {python}"
    )


@pytest.mark.parametrize("block", blocks_in(*PYTHON))
def test_python_example_runs(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run_example(block)


@pytest.mark.parametrize("block", blocks_in("json"))
def test_json_example_parses(block: Block) -> None:
    json.loads(block.code)


@pytest.mark.parametrize("block", blocks_in("yaml"))
def test_yaml_example_parses(block: Block) -> None:
    try:
        import yaml
    except ImportError:
        skip_or_fail("PyYAML is not installed (it comes with the dev extra)")
        return
    documents = list(yaml.safe_load_all(block.code))
    assert documents, f"{block.id}: no YAML document"
