"""flask_healthcheck as one pod of a fleet, for :mod:`bench.fleet`.

Readiness runs two checks: ``database``, shared by the fleet (``shared=True``; 2 ms, as a
``SELECT 1`` on a near database takes), and ``schema``, an expensive check (20 ms, counted in
``$BENCH_COUNTER_DIR/calls.txt``) run once per ``BENCH_FLEET_TTL`` seconds for the whole fleet
(``fleet_ttl``). With ``BENCH_FLEET_URL`` the pod joins the fleet store as ``BENCH_POD``;
without it, each server runs ``schema`` on its own, once per success TTL.
"""

from __future__ import annotations

import os
import time

from flask import Flask

from bench.apps.checks import CACHING, _counted, add_bare_route
from flask_healthcheck import HealthCheck

READY_PATH = "/healthz/ready"
#: Seconds one run of ``schema`` serves the whole fleet.
FLEET_TTL = float(os.environ.get("BENCH_FLEET_TTL", "5"))


def create_app() -> Flask:
    caching = CACHING["ttl"]
    app = Flask(__name__)
    url = os.environ.get("BENCH_FLEET_URL")
    if url:
        app.config.update(
            HEALTHCHECK_FLEET_URL=url,
            HEALTHCHECK_FLEET_NAME="bench",
            HEALTHCHECK_HOSTNAME=os.environ["BENCH_POD"],
        )
    health = HealthCheck(
        app, success_ttl=caching.success_ttl, failed_ttl=caching.failed_ttl, metrics=False
    )

    @health.check(shared=True)
    def database() -> tuple[bool, str]:
        time.sleep(0.002)
        return True, "answered"

    health.add_check(_counted(), name="schema", fleet_ttl=FLEET_TTL)
    add_bare_route(app)
    return app
