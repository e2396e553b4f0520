"""What the public and the token holder see of a check, read through the real endpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient

#: The ``HEALTHCHECK_TOKEN`` the apps of these tests are given.
TOKEN = "contrib-t0ken"


@dataclass(frozen=True)
class Seen:
    """One check's result as the public and as the token holder see it in the JSON report."""

    status_code: int
    public: dict[str, Any]
    detailed: dict[str, Any]

    @property
    def public_output(self) -> str:
        return str(self.public["output"])

    @property
    def detailed_output(self) -> str:
        return str(self.detailed["output"])


def seen(client: FlaskClient, name: str, path: str | None = None) -> Seen:
    """Check *name*'s result at *path* (default ``/healthz/<name>``), without and with the token.

    The second request reads the result the first one cached (or ran), so both show one run.
    """
    path = path or f"/healthz/{name}"
    public = client.get(path)
    detailed = client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert detailed.status_code == public.status_code, (public.get_json(), detailed.get_json())

    def result(body: Any) -> dict[str, Any]:
        return next(entry for entry in body["results"] if entry["checker"] == name)

    return Seen(public.status_code, result(public.get_json()), result(detailed.get_json()))
