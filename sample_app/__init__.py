"""A small Flask app that shows flask_healthcheck in use; ``python3 dev.py run`` serves it.

It runs on embedded defaults (SQLite in the instance folder, no other service). Set
``DATABASE_URL`` to use another database.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flask_healthcheck import HealthCheck


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
health = HealthCheck()


class Note(db.Model):  # type: ignore[name-defined,misc]
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(200))


@health.check(name="database", timeout=1.0)
def database() -> tuple[bool, str]:
    """The app's database answers a trivial query."""
    db.session.execute(text("SELECT 1"))
    return True, f"{db.engine.dialect.name} database ok"


@health.check(tags=["live"])
def process() -> tuple[bool, str]:
    """Liveness: the request loop runs; depends on nothing shared."""
    return True, f"pid {os.getpid()} serving"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=os.environ.get(
            "DATABASE_URL", f"sqlite:///{os.path.join(app.instance_path, 'sample.db')}"
        ),
        HEALTHCHECK_TOKEN=os.environ.get("HEALTHCHECK_TOKEN"),
    )
    app.config.update(config or {})
    db.init_app(app)
    health.init_app(app)

    @app.get("/")
    def index() -> dict[str, Any]:
        return {"app": "flask_healthcheck sample", "health": app.config["HEALTHCHECK_PATH"]}

    with app.app_context():
        db.create_all()
    return app
