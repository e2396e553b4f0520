"""The optional services of one app instance: Redis, when ``REDIS_URL`` configures it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import redis
from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry

EXTENSION_KEY = "sample_app"
VISITS_KEY = "sample_app:visits"

#: Seconds the app's Redis client waits to connect, and for each reply.
REDIS_TIMEOUT = 2.0


@dataclass
class Services:
    """What the app uses besides its database; ``None`` for a service not configured."""

    redis: redis.Redis | None
    _visits: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def init_app(cls, app: Flask) -> Services:
        url = app.config["REDIS_URL"]
        client = None
        if url:
            # One retry, for a connection the server dropped while idle; redis-py's default of
            # ten retries with backoff would hold a request for half a minute on an outage.
            client = redis.Redis.from_url(
                url,
                socket_connect_timeout=REDIS_TIMEOUT,
                socket_timeout=REDIS_TIMEOUT,
                retry=Retry(NoBackoff(), 1),
            )
        services = cls(redis=client)
        app.extensions[EXTENSION_KEY] = services
        return services

    @classmethod
    def of(cls, app: Flask) -> Services:
        services: Services = app.extensions[EXTENSION_KEY]
        return services

    def count_visit(self) -> int:
        """Count a visit: in Redis (shared by every process) when configured, else here."""
        if self.redis is not None:
            return int(self.redis.incr(VISITS_KEY))  # type: ignore[arg-type]
        with self._lock:
            self._visits += 1
            return self._visits
