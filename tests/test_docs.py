from __future__ import annotations

from dataclasses import fields
from pathlib import Path

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
