"""``tests/apps/server_unit.py`` as a WSGI module, for uWSGI."""

from tests.apps.server_unit import create_app

application = create_app()
