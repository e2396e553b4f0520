from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import fields
from pathlib import Path
from types import ModuleType

from flask_healthcheck import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_configuration_page_lists_every_key_with_its_default_and_argument() -> None:
    page = (DOCS / "configuration.rst").read_text()
    for field in fields(Settings):
        key = Settings.key(field.name)
        assert f"``{key}``" in page, f"{key} is not documented"
        row = page.split(f"``{key}``", 1)[1].split("* - ``HEALTHCHECK_", 1)[0]
        assert f"``{field.name}``" in row, f"{key}: its constructor argument is not documented"
        assert f"``{field.default!r}``".replace("'", '"') in row, (
            f"{key}: its default {field.default!r} is not documented"
        )


def test_every_integration_module_has_a_docs_page() -> None:
    package = Path(__file__).resolve().parent.parent / "flask_healthcheck" / "contrib"
    pages = {page.stem for page in (DOCS / "integrations").glob("*.rst")}
    modules = {module.stem for module in package.glob("*.py") if not module.stem.startswith("_")}
    assert modules <= pages, f"undocumented integrations: {sorted(modules - pages)}"


def _documented() -> set[str]:
    """Every object an autodoc or ``py:`` directive of the docs documents, by full name."""
    directive = re.compile(r"^\s*\.\. (?:auto\w+|py:\w+):: +([A-Za-z_][\w.]*)", re.MULTILINE)
    return {name for page in DOCS.rglob("*.rst") for name in directive.findall(page.read_text())}


def _public_names(module: ModuleType) -> list[str]:
    """A module's ``__all__``, else the classes and functions it defines without a ``_``."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    ]


def test_the_api_reference_documents_every_public_name() -> None:
    import flask_healthcheck

    documented = _documented()
    missing = [
        f"flask_healthcheck.{name}"
        for name in flask_healthcheck.__all__
        if f"flask_healthcheck.{name}" not in documented
    ]
    package = Path(flask_healthcheck.__file__).parent / "contrib"
    for path in sorted(package.glob("*.py")):
        if path.stem.startswith("_"):
            continue
        module = importlib.import_module(f"flask_healthcheck.contrib.{path.stem}")
        missing += [
            f"{module.__name__}.{name}"
            for name in _public_names(module)
            if f"{module.__name__}.{name}" not in documented
        ]
    assert missing == [], f"not in the API reference: {missing}"


def test_every_reference_must_resolve_through_local_inventories() -> None:
    conf = (DOCS / "conf.py").read_text()
    assert "nitpicky = True" in conf
    assert "suppress_warnings" not in conf
    inventories = {path.stem for path in (DOCS / "_inventories").glob("*.txt")}
    wanted = {"flask", "werkzeug", "sqlalchemy", "alembic", "celery", "redis", "sentry_sdk"}
    assert wanted | {"prometheus_client", "python"} <= inventories
    for name in inventories:
        for line in (DOCS / "_inventories" / f"{name}.txt").read_text().splitlines():
            if line and not line.startswith("#"):
                _, role, priority, uri, shown = line.split(" ")
                assert role.startswith("py:"), line
                assert priority in {"0", "1"}, line
                assert not uri.startswith("http"), f"{line}: a URI relative to the project's docs"
                assert shown == "-", line
