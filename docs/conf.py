from __future__ import annotations

import os
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flask_healthcheck

project = "flask_healthcheck"
author = "flask_healthcheck developers"
copyright = "2026, flask_healthcheck developers"
#: The version the docs show: the package's own, so they cannot disagree.
release = flask_healthcheck.__version__
version = ".".join(release.split(".")[:2])
extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx", "sphinx.ext.viewcode"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# What may be named without a page of its own, and why:
nitpick_ignore_regex = [
    # The parts an AppState is made of (runner, scheduler, ...): open to read but not a stable
    # API, so not documented (api.rst says so); signatures still name them.
    (
        "py:(class|mod)",
        r"(flask_healthcheck\.)?(runner|scheduler|events|lifecycle|availability|shared|registry"
        r"|fleet|clock|nagios|process)(\.\w+)?",
    ),
    ("py:class", r"Clock|Registry"),
    # Type aliases, TypeVars and TypedDicts of our signatures (a check's options, the values of
    # a model row, where the migrations are): the docstrings say what they accept, and the
    # source (viewcode) shows their definition.
    (
        "py:class",
        r"(flask_healthcheck\.extension\.)?(CheckOptions|CheckT)|RowValues|Location|Database"
        r"|SessionSource|ScriptsLocation|Models|IncludeObjectFn|IncludeNameFn|EngineSource",
    ),
]
# Every reference must resolve: a typo, or an object nobody documents, fails the build (-W).
nitpicky = True
exclude_patterns = ["_build"]
# Furo: maintained, readable on a phone, light and dark; what many Flask extensions use.
html_theme = "furo"
html_title = f"flask_healthcheck {release}"
html_theme_options = {"source_repository": None, "top_of_page_buttons": []}

# -- intersphinx, without the network ----------------------------------------------------------
# The inventories list the objects of each project these docs refer to (docs/_inventories/*.txt,
# one "name domain:role priority uri dispname" per line, as Sphinx's own objects.inv has them),
# with URIs into the project's published docs. They are compiled into objects.inv files at
# each build, so the build never fetches anything.
INVENTORIES = Path(__file__).resolve().parent / "_inventories"
COMPILED = Path(__file__).resolve().parent / "_build" / "inventories"
DOCS_OF = {
    "python": ("Python", "https://docs.python.org/3/"),
    "flask": ("Flask", "https://flask.palletsprojects.com/en/stable/"),
    "werkzeug": ("Werkzeug", "https://werkzeug.palletsprojects.com/en/stable/"),
    "sqlalchemy": ("SQLAlchemy", "https://docs.sqlalchemy.org/en/20/"),
    "alembic": ("Alembic", "https://alembic.sqlalchemy.org/en/latest/"),
    "celery": ("Celery", "https://docs.celeryq.dev/en/stable/"),
    "redis": ("redis-py", "https://redis.readthedocs.io/en/stable/"),
    "sentry_sdk": ("sentry-python", "https://getsentry.github.io/sentry-python/"),
    "prometheus_client": ("client_python", "https://prometheus.github.io/client_python/"),
    "opentelemetry": (
        "OpenTelemetry Python",
        "https://opentelemetry-python.readthedocs.io/en/latest/",
    ),
}


def compile_inventory(name: str, project: str) -> str:
    """docs/_inventories/NAME.txt as an objects.inv file; returns its path."""
    lines = [
        line
        for line in (INVENTORIES / f"{name}.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    header = (
        f"# Sphinx inventory version 2\n# Project: {project}\n# Version: \n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    body = zlib.compress(("\n".join(lines) + "\n").encode())
    COMPILED.mkdir(parents=True, exist_ok=True)
    path = COMPILED / f"{name}.inv"
    partial = path.with_name(f"{name}.inv.{os.getpid()}")
    partial.write_bytes(header.encode() + body)
    partial.replace(path)  # whole, even when two builds run at once
    return str(path)


intersphinx_mapping = {
    name: (url, compile_inventory(name, project)) for name, (project, url) in DOCS_OF.items()
}
