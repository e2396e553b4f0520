"""The four measurements, each against every contestant it applies to, under the same server.

Every function starts the servers of one scenario together, measures one contestant at a time,
and returns plain data for ``latest.json``; :mod:`bench.report` turns it into tables.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.apps import bare, ours, peer_flask_healthz, peer_py_healthcheck
from bench.apps.checks import CACHING, COUNTER_FILE, HANG_DEADLINE, SLOW_CHECK_SECONDS
from bench.load import Answer, Target, closed_loop, get, interleaved
from bench.servers import GunicornSettings, Server, serving

#: Every contestant, ours first; ``READY_PATH`` is None for the bare route, which has no checks.
CONTESTANTS: tuple[ModuleType, ...] = (ours, peer_py_healthcheck, peer_flask_healthz, bare)
WITH_CHECKS = tuple(module for module in CONTESTANTS if module.READY_PATH is not None)

#: flask_healthcheck's liveness with a query string, which Flask routes to the view.
THROUGH_FLASK = "flask_healthcheck, through Flask"

#: Extra threads a worker may gain over its baseline (request threads started) while a check
#: hangs: the hung run's own and the library's background start-up runner, plus one to spare.
THREAD_SLACK = 3


@dataclass(frozen=True)
class Plan:
    """How long and how hard each scenario runs; :data:`FULL` and :data:`SMOKE` are the two."""

    live_cycles: int
    live_warmup_cycles: int
    live_seconds: float
    live_connections: int
    load_processes: int
    slow_requests: int
    slow_requests_peers: int
    warmup_requests: int
    hang_requests: int
    hang_requests_peers: int
    hang_client_timeout: float
    flood_clients: int
    flood_seconds: float


FULL = Plan(
    live_cycles=8,
    live_warmup_cycles=1,
    live_seconds=1.0,
    live_connections=16,
    load_processes=2,
    slow_requests=20,
    slow_requests_peers=5,
    warmup_requests=1,
    hang_requests=200,
    hang_requests_peers=3,
    hang_client_timeout=2.0,
    flood_clients=50,
    flood_seconds=10.0,
)
SMOKE = Plan(
    live_cycles=1,
    live_warmup_cycles=0,
    live_seconds=0.3,
    live_connections=8,
    load_processes=2,
    slow_requests=3,
    slow_requests_peers=1,
    warmup_requests=0,
    hang_requests=5,
    hang_requests_peers=1,
    hang_client_timeout=0.5,
    flood_clients=8,
    flood_seconds=0.5,
)


def _servers(
    modules: tuple[ModuleType, ...],
    scenario: str,
    settings: GunicornSettings,
    work_dir: Path,
    environments: dict[str, dict[str, str]] | None = None,
) -> list[Server]:
    return [
        Server(
            module.__name__,
            scenario,
            settings,
            work_dir,
            (environments or {}).get(module.NAME),
        )
        for module in modules
    ]


def _answers(answers: list[Answer]) -> dict[str, Any]:
    seconds = [answer.seconds for answer in answers]
    return {
        "requests": len(answers),
        "answered": sum(answer.status is not None for answer in answers),
        "statuses": dict(Counter(str(answer.status) for answer in answers)),
        "latency_ms": [round(value * 1000, 3) for value in seconds],
        "median_ms": round(statistics.median(seconds) * 1000, 3) if seconds else None,
        "max_ms": round(max(seconds) * 1000, 3) if seconds else None,
    }


def liveness(plan: Plan, settings: GunicornSettings, work_dir: Path) -> dict[str, Any]:
    """Requests/s of each liveness endpoint, in short slices that alternate the contestants.

    flask_healthcheck is measured twice: as a probe asks (its WSGI fast path answers), and with
    a query string that sends the request through Flask's routing and the view.
    """
    with serving(_servers(CONTESTANTS, "live", settings, work_dir)) as servers:
        paired = list(zip(CONTESTANTS, servers, strict=True))
        samples = {}
        for module, server in paired:
            # As in Kubernetes, the startup probe passes (in every worker) before liveness counts.
            closed_loop(
                server.address,
                module.STARTUP_PATH,
                connections=server.settings.workers * 4,
                duration=0.2,
                processes=plan.load_processes,
            )
            sample = get(server.address, module.LIVE_PATH, timeout=5.0)
            samples[module.NAME] = {"status": sample.status, "body_bytes": len(sample.body)}
        entries = [(module.NAME, module.LIVE_PATH, server) for module, server in paired]
        entries.append((THROUGH_FLASK, ours.LIVE_PATH + "?format=json", servers[0]))
        targets = [
            Target(server.address, path, tuple(server.worker_pids())) for _, path, server in entries
        ]
        print(
            f"  {plan.live_cycles} cycles of {plan.live_seconds:g} s for each of "
            f"{len(targets)} endpoints, after {plan.live_warmup_cycles} of warm-up",
            flush=True,
        )
        measured = interleaved(
            targets,
            connections=plan.live_connections,
            slice_seconds=plan.live_seconds,
            cycles=plan.live_warmup_cycles + plan.live_cycles,
            processes=plan.load_processes,
        )[plan.live_warmup_cycles :]
    names = [name for name, _, _ in entries]
    cycles = [
        {name: result.summary() for name, result in zip(names, row, strict=True)}
        for row in measured
    ]
    contestants: dict[str, Any] = {}
    for index, (name, path, _) in enumerate(entries):
        column = [row[index] for row in measured]
        bare_column = [row[names.index(bare.NAME)] for row in measured]
        ratios = [
            mine.rps / floor.rps
            for mine, floor in zip(column, bare_column, strict=True)
            if floor.rps
        ]
        cpu = [
            result.server_cpu / result.requests * 1e6
            for result in column
            if result.server_cpu is not None and result.requests
        ]
        statuses: Counter[str] = Counter()
        for result in column:
            statuses.update({str(status): count for status, count in result.statuses.items()})
        contestants[name] = {
            "path": path,
            "sample_answer": samples.get(name),
            "median_rps": round(statistics.median(result.rps for result in column), 1),
            "median_ratio_to_bare": round(statistics.median(ratios), 3) if ratios else None,
            "median_server_cpu_us_per_request": round(statistics.median(cpu), 1) if cpu else None,
            "statuses": dict(statuses),
            "errors": sum(result.errors for result in column),
        }
    return {
        "connections": plan.live_connections,
        "load_processes": plan.load_processes,
        "seconds": plan.live_seconds,
        "warmup_cycles": plan.live_warmup_cycles,
        "cycles": cycles,
        "contestants": contestants,
    }


def slow_readiness(plan: Plan, settings: GunicornSettings, work_dir: Path) -> dict[str, Any]:
    """Latency of readiness with eight checks that each sleep 100 ms, nothing cached."""
    contestants: dict[str, Any] = {}
    with serving(_servers(WITH_CHECKS, "slow8", settings, work_dir)) as servers:
        for module, server in zip(WITH_CHECKS, servers, strict=True):
            print(f"  readiness, 8 slow checks: {module.NAME}", flush=True)
            count = plan.slow_requests if module is ours else plan.slow_requests_peers
            path = module.READY_PATH
            for _ in range(plan.warmup_requests):  # thread pools, first-call costs
                get(server.address, path, timeout=10.0)
            answers = [get(server.address, path, timeout=10.0) for _ in range(count)]
            contestants[module.NAME] = {"path": path, **_answers(answers)}
    return {"check_seconds": SLOW_CHECK_SECONDS, "checks": 8, "contestants": contestants}


def _fill_thread_pools(server: Server, plan: Plan) -> dict[int, int]:
    """Start every worker's request threads with a moment of load, then read the baseline.

    The load goes to a path outside the health endpoints (a 404), so that no health-check
    thread has started yet when the baseline is read.
    """
    closed_loop(
        server.address,
        "/__bench_not_found",
        connections=server.settings.threads * server.settings.workers * 2,
        duration=0.2,
        processes=plan.load_processes,
    )
    time.sleep(0.1)
    return server.thread_counts()


def hung_check(plan: Plan, settings: GunicornSettings, work_dir: Path) -> dict[str, Any]:
    """Consecutive readiness requests while one check never returns; latency and threads."""
    contestants: dict[str, Any] = {}
    with serving(_servers(WITH_CHECKS, "hang", settings, work_dir)) as servers:
        for module, server in zip(WITH_CHECKS, servers, strict=True):
            print(f"  readiness, a hung check: {module.NAME}", flush=True)
            baseline = _fill_thread_pools(server, plan)
            if module is ours:
                count, timeout = plan.hang_requests, HANG_DEADLINE + 5.0
            else:
                count, timeout = plan.hang_requests_peers, plan.hang_client_timeout
            peak = dict(baseline)
            answers = []
            for _ in range(count):
                answers.append(get(server.address, module.READY_PATH, timeout=timeout))
                for pid, threads in server.thread_counts().items():
                    peak[pid] = max(peak.get(pid, 0), threads)
            after = server.thread_counts()
            growth = max((peak[pid] - baseline.get(pid, peak[pid]) for pid in peak), default=0)
            contestants[module.NAME] = {
                "path": module.READY_PATH,
                "client_timeout_s": timeout,
                **_answers(answers),
                "threads_baseline": {str(pid): count for pid, count in baseline.items()},
                "threads_peak": {str(pid): count for pid, count in peak.items()},
                "threads_after": {str(pid): count for pid, count in after.items()},
                "max_thread_growth": growth,
            }
    return {"deadline_s": HANG_DEADLINE, "thread_slack": THREAD_SLACK, "contestants": contestants}


def ttl_flood(plan: Plan, settings: GunicornSettings, work_dir: Path) -> dict[str, Any]:
    """Calls of a cached check per worker while many clients hammer readiness."""
    counter_dirs = {module.NAME: work_dir / f"counter-{module.__name__}" for module in WITH_CHECKS}
    for directory in counter_dirs.values():
        directory.mkdir(parents=True, exist_ok=True)
    environments = {name: {"BENCH_COUNTER_DIR": str(path)} for name, path in counter_dirs.items()}
    contestants: dict[str, Any] = {}
    with serving(_servers(WITH_CHECKS, "ttl", settings, work_dir, environments)) as servers:
        for module, server in zip(WITH_CHECKS, servers, strict=True):
            print(
                f"  readiness, {plan.flood_clients} clients for {plan.flood_seconds:g} s: "
                f"{module.NAME}",
                flush=True,
            )
            counter = counter_dirs[module.NAME] / COUNTER_FILE
            counter.unlink(missing_ok=True)
            result = closed_loop(
                server.address,
                module.READY_PATH,
                connections=plan.flood_clients,
                duration=plan.flood_seconds,
                processes=plan.load_processes,
            )
            lines = counter.read_text().split() if counter.exists() else []
            calls = Counter(lines)
            contestants[module.NAME] = {
                "path": module.READY_PATH,
                **result.summary(),
                "check_calls_per_process": dict(calls),
                "max_calls_per_process": max(calls.values(), default=0),
                "total_calls": sum(calls.values()),
            }
    return {
        "clients": plan.flood_clients,
        "seconds": plan.flood_seconds,
        "success_ttl": CACHING["ttl"].success_ttl,
        "contestants": contestants,
    }


def plan_dict(plan: Plan) -> dict[str, Any]:
    return asdict(plan)
