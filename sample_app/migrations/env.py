"""Alembic's environment for Flask-Migrate (its ``flask`` template), run by ``flask db ...``
and by the app factory, which applies the migrations on start.

Two changes to the template: when the factory upgrades (``-x logging=app``), the app's logging
is left as it is, instead of being replaced by the configuration in ``alembic.ini``; and
Flask-Migrate's options are copied rather than changed, since env.py runs twice in a process
that upgrades on start and then runs ``flask db migrate``.
"""

from __future__ import annotations

import logging
from logging.config import fileConfig
from typing import Any

from alembic import context
from flask import current_app

config = context.config

if config.config_file_name and context.get_x_argument(as_dictionary=True).get("logging") != "app":
    fileConfig(config.config_file_name)
logger = logging.getLogger("alembic.env")


def get_engine() -> Any:
    return current_app.extensions["migrate"].db.engine


def get_engine_url() -> str:
    url: str = get_engine().url.render_as_string(hide_password=False)
    return url.replace("%", "%%")


config.set_main_option("sqlalchemy.url", get_engine_url())
target_db = current_app.extensions["migrate"].db


def get_metadata() -> Any:
    if hasattr(target_db, "metadatas"):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline() -> None:
    """Emit the migrations as SQL (``flask db upgrade --sql``), without a connection."""
    url = config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=get_metadata(), literal_binds=True)

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on a connection of the app's engine."""

    # Keep 'flask db migrate' from writing an empty revision when the models have not changed.
    def process_revision_directives(context: Any, revision: Any, directives: Any) -> None:
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    # A copy: the template stores the hook in Flask-Migrate's own options, where it would stay
    # bound to the first run's config when the app has upgraded in this process already.
    conf_args = dict(current_app.extensions["migrate"].configure_args)
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    with get_engine().connect() as connection:
        context.configure(connection=connection, target_metadata=get_metadata(), **conf_args)

        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
