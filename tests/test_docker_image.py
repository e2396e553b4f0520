"""The sample's image, checked statically (no Docker engine is needed, and none is used): the
build context leaves out what the image does not need, the dependencies are pinned and
installed in a layer before the code, and the image runs as its non-root user.

What only a build can show (that pip finds every pin for the image's Python, that ``pip
check`` passes) the Dockerfile checks itself when it is built.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from collections.abc import Iterator
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .parsing import parse

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "sample_app" / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
REQUIREMENTS = DEPLOY / "requirements.txt"

#: The build context may grow with the code, not with a virtualenv or a cache.
CONTEXT_LIMIT = 5 * 1024 * 1024
PROJECT = "flask-health-checks"
#: The sample's own stack, besides flask-health-checks[all].
SAMPLE_STACK = ("flask-sqlalchemy", "flask-migrate", "psycopg[binary]", "gunicorn")


# -- the Dockerfile -------------------------------------------------------------------------


def instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            found.append((keyword.upper(), arguments.strip()))
    return found


def copy_sources() -> list[str]:
    """The sources of the Dockerfile's COPY instructions from the build context."""
    sources = []
    for keyword, arguments in instructions():
        if keyword == "COPY":
            words = arguments.split()
            assert not any(word.startswith("--from") for word in words), "a multi-stage COPY"
            sources += [word for word in words[:-1] if not word.startswith("--")]
    return sources


def image_python() -> str:
    (base,) = [arguments for keyword, arguments in instructions() if keyword == "FROM"]
    match = re.fullmatch(r"python:(\d+\.\d+)[\w.-]*", base)
    assert match, f"not an official Python image: {base}"
    return match[1]


def dockerfile_env(name: str) -> str:
    for keyword, arguments in instructions():
        if keyword == "ENV":
            match = re.search(rf"\b{name}=(\S+)", arguments)
            if match:
                return match[1]
    raise AssertionError(f"the Dockerfile sets no {name}")


def test_pinned_dependencies_are_installed_in_a_layer_before_the_code() -> None:
    steps = instructions()
    copies = [
        (index, arguments) for index, (keyword, arguments) in enumerate(steps) if keyword == "COPY"
    ]
    runs = [
        (index, arguments) for index, (keyword, arguments) in enumerate(steps) if keyword == "RUN"
    ]
    requirements = str(REQUIREMENTS.relative_to(ROOT))
    (copied_at,) = [index for index, arguments in copies if arguments.startswith(requirements)]
    (installed_at,) = [
        index for index, arguments in runs if "--requirement" in arguments or " -r " in arguments
    ]
    code_at = min(
        index
        for index, arguments in copies
        if arguments.split()[0] in ("flask_healthcheck", "sample_app", "pyproject.toml")
    )
    assert copied_at < installed_at < code_at
    # The pins are all that is installed: no pip install resolves anything itself.
    for index, arguments in runs:
        for command in re.findall(r"pip install ([^&]*)", arguments):
            assert "--no-deps" in command, f"RUN {arguments}"
            named = [word for word in command.split() if not word.startswith("-")]
            assert named in (["/tmp/requirements.txt"], ["."]), f"unpinned install: {command}"
            assert "pip check" in arguments, f"RUN {arguments}: no pip check after the install"
            if named == ["."]:
                assert index > installed_at


def test_image_runs_as_its_non_root_user_with_its_writable_directories() -> None:
    steps = instructions()
    users = [arguments for keyword, arguments in steps if keyword == "USER"]
    assert users, "the image runs as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "USER must be numeric for runAsNonRoot to verify it"
    assert int(uid) != 0
    created = " ".join(arguments for keyword, arguments in steps if keyword == "RUN")
    assert f"--uid {uid}" in created
    assert f"--gid {users[-1].split(':')[1]}" in created
    for directory in (dockerfile_env("SAMPLE_INSTANCE_PATH"), "/run/probes"):
        assert re.search(rf"mkdir -p [^&]*{re.escape(directory)}\b", created), directory
        assert re.search(rf"chown [^&]*{re.escape(directory)}\b", created), directory


# -- the pinned requirements ----------------------------------------------------------------


def pins() -> dict[str, str]:
    """``{canonical name: version}`` of requirements.txt; every line must pin one version."""
    found: dict[str, str] = {}
    for raw in REQUIREMENTS.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.+!-]*)", line)
        assert match, f"requirements.txt: {line!r} is not pinned as name==version"
        name = canonicalize_name(match[1])
        assert name not in found, f"requirements.txt: {name} twice"
        found[name] = match[2]
    return found


def image_environment() -> dict[str, str]:
    """Environment markers of the image: Linux, CPython at the Dockerfile's version."""
    python = image_python()
    return {
        **default_environment(),
        "python_version": python,
        "python_full_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }


def applies(requirement: Requirement, extras: frozenset[str]) -> bool:
    if requirement.marker is None:
        return True
    environment = image_environment()
    return any(
        requirement.marker.evaluate({**environment, "extra": extra}) for extra in extras or {""}
    )


def project() -> metadata.Distribution:
    """The project as installed here (``dev.py`` installs it again when pyproject.toml changes)."""
    return metadata.distribution(PROJECT)


def image_roots() -> Iterator[Requirement]:
    """What the image asks for: the library with its ``all`` extra, and the sample's stack."""
    declared = [Requirement(line) for line in project().requires or []]
    wanted, seen = ["", "all"], set()
    while wanted:
        extra = wanted.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for requirement in declared:
            marker = requirement.marker
            if (marker is None) != (extra == "") or (
                marker is not None and not marker.evaluate({**image_environment(), "extra": extra})
            ):
                continue
            if canonicalize_name(requirement.name) == PROJECT:
                wanted += sorted(requirement.extras)
            else:
                yield requirement
    yield from map(Requirement, SAMPLE_STACK)


def test_requirements_pin_what_the_image_asks_for_within_its_ranges() -> None:
    pinned = pins()
    for requirement in image_roots():
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement} is not pinned"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{name}=={pinned[name]} is outside {requirement}"
        )


def test_requirements_are_closed_under_their_dependencies() -> None:
    """Each pin's dependencies on the image's Python are pinned too, within their ranges.

    The dependencies are read from the distributions installed here (the development
    environment), so a pin that has moved on is checked with its neighbour's metadata; the
    build's ``pip check`` has the last word.
    """
    pinned = pins()
    extras_of: dict[str, frozenset[str]] = {
        canonicalize_name(root.name): frozenset(root.extras) for root in image_roots()
    }
    missing = []
    for name in pinned:
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue  # not installed here: the build's pip check covers it
        for line in requires:
            requirement = Requirement(line)
            if not applies(requirement, extras_of.get(name, frozenset())):
                continue
            dependency = canonicalize_name(requirement.name)
            if dependency not in pinned:
                missing.append(f"{name} needs {requirement}")
            elif not requirement.specifier.contains(pinned[dependency], prereleases=True):
                missing.append(f"{name} needs {requirement}, pinned {pinned[dependency]}")
    assert missing == []


def imported_modules(directory: Path) -> set[str]:
    """Top-level names of every module imported anywhere in the ``.py`` files of *directory*."""
    names: set[str] = set()
    for path in directory.rglob("*.py"):
        for node in ast.walk(parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_requirements_cover_every_import_of_the_sample_app() -> None:
    pinned = pins()
    distributions = metadata.packages_distributions()
    local = {"sample_app", "flask_healthcheck"}
    third_party = imported_modules(ROOT / "sample_app") - set(sys.stdlib_module_names) - local
    assert {"flask", "sqlalchemy", "celery", "redis"} <= third_party  # the walk found imports
    uncovered = {
        module: distributions.get(module, [])
        for module in third_party
        if not {canonicalize_name(name) for name in distributions.get(module, [])} & set(pinned)
    }
    assert uncovered == {}


# -- .dockerignore --------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A ``.dockerignore`` pattern as Docker matches it (Go's filepath.Match, plus ``**``)."""
    pattern = os.path.normpath(pattern.strip().lstrip("/"))
    out = ""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**", index):
            index += 2
            if pattern.startswith("/", index):
                index += 1
                out += "(?:.*/)?"
            else:
                out += ".*"
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.index("]", index)
            out += pattern[index : end + 1]
            index = end
        else:
            out += re.escape(char)
        index += 1
    return re.compile(out)


@cache
def ignore_rules() -> tuple[tuple[bool, re.Pattern[str]], ...]:
    rules = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keep = line.startswith("!")
        rules.append((keep, _pattern_regex(line.removeprefix("!"))))
    return tuple(rules)


def ignored(relative: str) -> bool:
    """Whether Docker leaves *relative* (a path from the context's root) out of the context:
    the last pattern that matches it or one of its parent directories decides."""
    parts = relative.strip("/").split("/")
    candidates = ["/".join(parts[: count + 1]) for count in range(len(parts))]
    verdict = False
    for keep, regex in ignore_rules():
        if any(regex.fullmatch(candidate) for candidate in candidates):
            verdict = not keep
    return verdict


def test_dockerignore_matcher_follows_dockers_rules() -> None:
    assert _pattern_regex("**/__pycache__").fullmatch("a/b/__pycache__")
    assert _pattern_regex("**/__pycache__").fullmatch("__pycache__")
    assert not _pattern_regex("*.db").fullmatch("sample_app/notes.db")  # root only
    assert _pattern_regex("**/*.py[cod]").fullmatch("x/y.pyc")


def test_dockerignore_keeps_everything_the_dockerfile_copies() -> None:
    sources = copy_sources()
    # The build of "." reads these besides the package and pyproject.toml.
    needed = ["pyproject.toml", "README.md", *(project().metadata.get_all("License-File") or [])]
    for path in needed:
        assert any(source == path for source in sources), f"the Dockerfile does not copy {path}"
    for source in sources:
        path = ROOT / source
        assert path.exists(), f"COPY {source}: no such file"
        assert not ignored(source), f"COPY {source} is excluded by .dockerignore"
        if path.is_dir():
            for file in path.rglob("*"):
                relative = file.relative_to(ROOT).as_posix()
                if file.is_file() and "__pycache__" not in relative:
                    assert not ignored(relative), f"{relative} is excluded by .dockerignore"


@pytest.mark.parametrize(
    "path",
    [
        ".venv/lib/python3.12/site-packages/flask/app.py",
        ".git/objects/pack/pack-1.pack",
        ".git",  # a worktree's .git is a file
        "docs/_build/html/index.html",
        "build/lib/flask_healthcheck/__init__.py",
        "dist/flask_health_checks-0.1.0-py3-none-any.whl",
        "flask_health_checks.egg-info/PKG-INFO",
        "bench/results/latest.json",
        "tests/test_deploy.py",
        "flask_healthcheck/__pycache__/runner.cpython-312.pyc",
        "sample_app/__pycache__/health.cpython-312.pyc",
        ".pytest_cache/v/cache/nodeids",
        ".mypy_cache/3.10/flask_healthcheck/runner.data.json",
        ".ruff_cache/content",
        ".hypothesis/examples/x",
        "instance/notes.sqlite3",
    ],
)
def test_dockerignore_leaves_out_environments_caches_builds_and_tests(path: str) -> None:
    assert ignored(path)


def test_build_context_is_small() -> None:
    size = 0
    for directory, subdirectories, files in os.walk(ROOT):
        relative = Path(directory).relative_to(ROOT).as_posix()
        prefix = "" if relative == "." else f"{relative}/"
        subdirectories[:] = [name for name in subdirectories if not ignored(prefix + name)]
        for name in files:
            if not ignored(prefix + name):
                size += (Path(directory) / name).lstat().st_size
    assert size < CONTEXT_LIMIT, f"the build context is {size / 1024 / 1024:.1f} MiB"
