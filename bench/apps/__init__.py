"""One WSGI app module per contestant, all serving the same checks (see :mod:`bench.apps.checks`).

Each module has ``create_app()``, for gunicorn's ``module:create_app()`` form, and the paths of
its liveness and readiness endpoints. The scenario comes from ``BENCH_SCENARIO``.
"""
