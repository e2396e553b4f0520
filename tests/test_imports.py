"""The layering of the package: which module may import which, in one place.

Every module of ``flask_healthcheck`` is parsed with :mod:`ast`; every import counts, at module
level, inside a function or under ``if TYPE_CHECKING:`` alike (an import moved into a function
to dodge a cycle is still a cycle), and so does a module named by a string for
``importlib.import_module`` (the console script and the package's lazy exports do that). A
module may import modules of its own layer or of a layer below, never above, and the graph
has no cycle. A new module goes into a layer here, and into the module map of
docs/development.rst.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from collections.abc import Iterator
from pathlib import Path

from .parsing import parse

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "flask_healthcheck"
NAME = "flask_healthcheck"

#: The layers, bottom first. A module may import its own layer and those below it.
LAYERS: list[tuple[str, list[str]]] = [
    (
        "foundations: the vocabulary every part shares, free of Flask where it can be",
        [
            "exceptions",
            "endpoints",
            "clock",
            "budget",
            "redact",
            "process",
            "shared",
            "counters",
            "config",
            "results",
            "history",
            "registry",
        ],
    ),
    (
        "mechanics: run checks, keep the app's availability and life, hear of changes, "
        "render reports",
        [
            "availability",
            "verdict",
            "store",
            "runner",
            "scheduler",
            "lifecycle",
            "events",
            "metrics",
            "page",
            "formats",
            "nagios",
            "sentry",
            "fleet",
            "fleet_store",
        ],
    ),
    ("the health service of one app, which the web side calls", ["state"]),
    (
        "the web side: views, WSGI middlewares, the probe port, the environment dump",
        ["views", "middleware", "probe_port", "environment", "access_log"],
    ),
    ("the extension: wires an app's parts together", ["extension"]),
    ("integrations: above the core, which never imports them", ["contrib", "contrib.*"]),
    (
        "entry points: the package's lazy exports and the commands, which may use an "
        "integration (the worker command pings through the Celery one)",
        [
            "__init__",
            "cli",
            "kubernetes",
            "lint",
            "console",
            "arguments",
            "http_probe",
            "worker_probe",
        ],
    ),
]
#: The layer of the integrations: every layer below it is the core.
INTEGRATIONS = 5

#: Imports that break the rules, each with the reason it may stay for now (none today).
ALLOWED: dict[tuple[str, str], str] = {}


def _module_names() -> dict[str, Path]:
    """Every module of the package by its dotted name under the package (``contrib.redis``)."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = _module_names()


def _package_of(module: str) -> list[str]:
    """The package a module's relative imports start from, as a list of names."""
    if module == "__init__":
        return []
    parts = module.split(".")
    return parts if MODULES[module].name == "__init__.py" else parts[:-1]


def _resolve(dotted: list[str]) -> str | None:
    """The module a dotted name under the package is, or is inside of."""
    while dotted:
        name = ".".join(dotted)
        if name in MODULES:
            return name
        dotted = dotted[:-1]
    return "__init__"


def _imports(module: str, source: str | None = None) -> Iterator[str]:
    """The modules of the package that *module* (or *source* in its place) imports."""
    if source is None:
        source = MODULES[module].read_text()
    tree = parse(source, str(MODULES[module]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == NAME:
                    yield from _target(parts[1:])
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = _package_of(module)
                base = package[: len(package) - node.level + 1]
                base += node.module.split(".") if node.module else []
            elif node.module and node.module.split(".")[0] == NAME:
                base = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:
                # "from . import budget" names a module; "from .x import y" a name in x.
                submodule = ".".join([*base, alias.name])
                yield from _target([*base, alias.name] if submodule in MODULES else base)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # "flask_healthcheck.http_probe" for importlib, or ".extension" in the package's
            # table of lazy exports.
            text = node.value
            if text.startswith(NAME + ".") and text[len(NAME) + 1 :] in MODULES:
                yield text[len(NAME) + 1 :]
            elif module == "__init__" and text.startswith(".") and text[1:] in MODULES:
                yield text[1:]


def _target(parts: list[str]) -> Iterator[str]:
    resolved = _resolve(parts)
    if resolved is not None:
        yield resolved


def _graph() -> dict[str, set[str]]:
    graph = {module: set(_imports(module)) - {module} for module in MODULES}
    for importer, imported in ALLOWED:
        graph[importer].discard(imported)
    return graph


def _layer_of(module: str) -> int:
    for index, (_, patterns) in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(module, pattern) for pattern in patterns):
            return index
    raise AssertionError(
        f"flask_healthcheck/{MODULES[module].relative_to(PACKAGE)} is in no layer: add it to "
        "LAYERS in tests/test_imports.py, and to the module map in docs/development.rst"
    )


def test_every_layered_name_is_a_module_and_every_module_has_one_layer() -> None:
    named = [name for _, names in LAYERS for name in names if "*" not in name]
    assert sorted(set(named) - set(MODULES)) == [], "LAYERS names modules that do not exist"
    assert len(named) == len(set(named)), "a module is in two layers"
    for module in MODULES:
        _layer_of(module)


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = [
        f"{importer} (layer {_layer_of(importer)}) imports {imported} "
        f"(layer {_layer_of(imported)}: {LAYERS[_layer_of(imported)][0]})"
        for importer, imports in sorted(_graph().items())
        for imported in sorted(imports)
        if _layer_of(imported) > _layer_of(importer)
    ]
    assert upward == []


def test_the_core_never_imports_an_integration() -> None:
    assert LAYERS[INTEGRATIONS][1] == ["contrib", "contrib.*"]
    graph = _graph()
    core = [module for module in MODULES if _layer_of(module) < INTEGRATIONS]
    reaching = [
        f"{module} imports {imported}"
        for module in sorted(core)
        for imported in sorted(graph[module])
        if imported.startswith("contrib")
    ]
    assert reaching == []


def test_no_module_below_the_extension_imports_it() -> None:
    extension = _layer_of("extension")
    importers = [
        module
        for module, imports in _graph().items()
        if "extension" in imports and _layer_of(module) <= extension
    ]
    assert importers == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return groups


def test_the_import_graph_has_no_cycle() -> None:
    assert _cycles(_graph()) == []


def test_an_import_inside_a_function_is_an_edge_and_a_cycle_is_found() -> None:
    # The tests above must see what they claim to: the cycle the views once hid this way.
    late = "def make():\n    from .extension import EXTENSION_KEY\n    from . import state\n"
    assert set(_imports("views", late)) == {"extension", "state"}
    graph = _graph()
    graph["views"] |= set(_imports("views", late))
    assert _cycles(graph) == [["extension", "views"]]


def test_every_allowance_still_matches_an_import() -> None:
    # An allowance outlives its reason otherwise: once the import is gone, delete it.
    stale = [
        f"{importer} no longer imports {imported}: delete the allowance in ALLOWED"
        for importer, imported in sorted(ALLOWED)
        if imported not in set(_imports(importer))
    ]
    assert stale == []


def test_the_module_map_of_the_docs_lists_every_module() -> None:
    text = (ROOT / "docs" / "development.rst").read_text()
    section = text.split("Module map\n", 1)[1]
    listed = set(re.findall(r"``flask_healthcheck/([\w/]+)\.py``", section))
    files = {str(path.relative_to(PACKAGE).with_suffix("")) for path in PACKAGE.rglob("*.py")}
    assert sorted(files - listed) == [], "add these modules to docs/development.rst"
    assert sorted(listed - files) == [], "docs/development.rst lists modules that do not exist"
