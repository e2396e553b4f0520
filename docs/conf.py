from __future__ import annotations

import sys
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
nitpicky = False
exclude_patterns = ["_build"]
# Furo: maintained, readable on a phone, light and dark; what many Flask extensions use.
html_theme = "furo"
html_title = f"flask_healthcheck {release}"
html_theme_options = {"source_repository": None, "top_of_page_buttons": []}
intersphinx_mapping: dict[str, tuple[str, None]] = {}
suppress_warnings = ["ref.python"]
