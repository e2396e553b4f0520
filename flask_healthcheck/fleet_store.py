"""The fleet store on Redis: where the servers of a service share their checks' verdicts.

``HEALTHCHECK_FLEET_URL = "redis://..."`` turns it on; it needs the ``fleet`` extra
(``pip install 'flask-health-checks[fleet]'``), and imports redis-py only when it is made, as
the metrics import prometheus_client: an app without a fleet pays nothing. What it keeps,
under ``flask_healthcheck:fleet:<HEALTHCHECK_FLEET_NAME>:``:

``pods``
    A sorted set of the servers, scored by the time they last published.
``pod:<name>``
    A hash per server: per check, its verdict as JSON (passed, kind, time, critical,
    shared), never its output or detail. It expires five pod TTLs after the last write, and a
    server is counted live only within one pod TTL (:mod:`flask_healthcheck.fleet`).
``alert:<check>``
    Who told Sentry of a fleet-wide outage of the check (``SET NX``, expiring).
``run:<check>``, ``lease:<check>``
    The fleet's last run of a check with ``fleet_ttl``, and the server running it now.

Every call has the store's own timeout (``HEALTHCHECK_FLEET_TIMEOUT``) for connecting and for
each answer, and no retry: a store that is down costs an answer that timeout once, then the
fleet leaves it alone for a while and each server decides alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from .exceptions import MissingDependencyError
from .fleet import FleetRun, FleetView, PeerResult, Pod

if TYPE_CHECKING:
    import redis

#: A server's hash is kept this many pod TTLs after its last write, to be shown as stale.
KEEP_STALE = 5


class RedisFleetStore:
    """A :class:`~flask_healthcheck.fleet.FleetStore` on the Redis server at *url*."""

    def __init__(self, url: str, fleet: str, *, timeout: float, pod_ttl: float) -> None:
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError as exc:
            raise MissingDependencyError("redis", "fleet", "HEALTHCHECK_FLEET_URL") from exc
        self.client: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            health_check_interval=0,
        )
        self.prefix = f"flask_healthcheck:fleet:{fleet}:"
        self.pod_ttl = pod_ttl

    def __repr__(self) -> str:
        return f"RedisFleetStore({self.prefix!r})"

    def publish(self, pod: str, check: str, result: PeerResult, now: float) -> None:
        keep = max(int(KEEP_STALE * self.pod_ttl), 1)
        verdict = {
            "passed": result.passed,
            "kind": result.kind,
            "timestamp": result.timestamp,
            "critical": result.critical,
            "shared": result.shared,
        }
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(self.prefix + f"pod:{pod}", check, json.dumps(verdict))
        pipe.expire(self.prefix + f"pod:{pod}", keep)
        pipe.zadd(self.prefix + "pods", {pod: now})
        pipe.zremrangebyscore(self.prefix + "pods", "-inf", now - keep)
        pipe.expire(self.prefix + "pods", keep)
        pipe.execute()

    def read(self, now: float) -> FleetView:
        keep = KEEP_STALE * self.pod_ttl
        listed = cast(
            "list[tuple[bytes, float]]",
            self.client.zrangebyscore(self.prefix + "pods", now - keep, "+inf", withscores=True),
        )
        if not listed:
            return FleetView((), now)
        pipe = self.client.pipeline(transaction=False)
        for name, _ in listed:
            pipe.hgetall(self.prefix + f"pod:{name.decode()}")
        hashes: list[dict[bytes, bytes]] = pipe.execute()
        pods = tuple(
            Pod(name.decode(), updated, _checks(fields))
            for (name, updated), fields in zip(listed, hashes, strict=True)
            if fields
        )
        return FleetView(pods, now)

    def first_to_alert(self, check: str, pod: str, seconds: float) -> bool:
        key = self.prefix + f"alert:{check}"
        return bool(self.client.set(key, pod, nx=True, px=max(int(seconds * 1000), 1)))

    def latest_run(self, check: str) -> FleetRun | None:
        data = self.client.get(self.prefix + f"run:{check}")
        if data is None:
            return None
        try:
            return FleetRun(**json.loads(data))
        except (TypeError, ValueError):
            return None  # written by another version of the library: as if none

    def lease_run(self, check: str, pod: str, seconds: float) -> bool:
        key = self.prefix + f"lease:{check}"
        return bool(self.client.set(key, pod, nx=True, px=max(int(seconds * 1000), 1)))

    def store_run(self, check: str, run: FleetRun, keep: float) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.set(
            self.prefix + f"run:{check}",
            json.dumps(run.__dict__),
            px=max(int(keep * 1000), 1),
        )
        pipe.delete(self.prefix + f"lease:{check}")
        pipe.execute()

    def close(self) -> None:
        self.client.close()


def _checks(fields: Mapping[bytes, bytes]) -> dict[str, PeerResult]:
    checks = {}
    for name, data in fields.items():
        try:
            verdict: dict[str, Any] = json.loads(data)
            checks[name.decode()] = PeerResult(
                bool(verdict["passed"]),
                str(verdict["kind"]),
                float(verdict["timestamp"]),
                bool(verdict.get("critical", True)),
                bool(verdict.get("shared", False)),
            )
        except (KeyError, TypeError, ValueError):
            continue  # written by another version of the library: left out
    return checks
