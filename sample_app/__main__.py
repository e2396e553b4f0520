from __future__ import annotations

from . import create_app

create_app().run(port=5000)
