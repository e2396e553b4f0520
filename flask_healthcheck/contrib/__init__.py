"""Built-in checks for the services Flask apps depend on, one module per integration.

Each module needs its own extra (``pip install 'flask-health-checks[redis]'``); importing one
without its package raises :class:`~flask_healthcheck.MissingDependencyError` naming the extra.
"""
