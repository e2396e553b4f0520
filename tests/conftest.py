from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_healthcheck import HealthCheck

from .services import BlackHole, black_hole


@pytest.fixture
def health() -> HealthCheck:
    return HealthCheck()


@pytest.fixture
def make_app(health: HealthCheck) -> Callable[..., Flask]:
    """Build an app with the given ``HEALTHCHECK_*`` config and the ``health`` extension on it."""

    def factory(**config: Any) -> Flask:
        app = Flask("test_app")
        app.config.update(TESTING=True, **config)
        health.init_app(app)
        return app

    return factory


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def hung_server() -> Iterator[BlackHole]:
    """A socket that accepts connections and never answers."""
    with black_hole() as server:
        yield server
