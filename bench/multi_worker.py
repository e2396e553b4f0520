"""The multi-worker scenario: one gunicorn server of four workers per contestant.

A probe lands on any worker of a server, so what counts is the server, not the process: how
often the whole server calls a dependency while readiness is flooded, and what readiness and
liveness cost under that server. Every app serves the ``ttl`` checks of
:mod:`bench.apps.checks` (one check of 20 ms that records each call, from whichever worker,
in one file; ``success_ttl=1`` where the library caches) and a bare Flask route.

flask_healthcheck runs twice: with the per-server shared result store (by default the working
tree's package) and with the in-process cache each worker kept before it (the package at
:data:`~bench.libraries.BEFORE_SHARED_STORE`), since under gunicorn nothing turns the sharing
off (see :mod:`bench.libraries`).

For each worker class (``sync``, and ``gthread`` with four threads), the servers start
together; then each in turn takes a readiness flood on its own (the calls, requests/s and
latency), and then alternating slices of load measure each library's liveness against the bare
route of the same app, and readiness with the shared store against the in-process cache.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.apps import ours, peer_flask_healthz, peer_py_healthcheck
from bench.apps.checks import BARE_PATH, CACHING, COUNTED_CHECK_SECONDS, COUNTER_FILE, read_calls
from bench.libraries import BEFORE_SHARED_STORE, Library, resolve
from bench.load import Answer, LoadResult, Target, closed_loop, cpu_seconds, get, interleaved
from bench.scenarios import Plan
from bench.servers import GunicornSettings, Server, serving

SHARED = "flask_healthcheck, shared store"
IN_PROCESS = "flask_healthcheck, in-process cache"
WORKERS = 4
#: The gunicorn worker classes the scenario knows (``--worker-class`` of ``python -m bench``).
WORKER_CLASSES = ("sync", "gthread")
#: The app scenario every server serves (see :mod:`bench.apps.checks`).
APP_SCENARIO = "ttl"


@dataclass(frozen=True)
class Libraries:
    """The git refs of flask_healthcheck's two contestants; None is the working tree."""

    shared: str | None = None
    in_process: str | None = BEFORE_SHARED_STORE


@dataclass(frozen=True)
class _Contestant:
    name: str
    module: ModuleType
    #: The flask_healthcheck package it runs; None for a peer.
    library: Library | None
    label: str
    caching: str


def _contestants(libraries: Libraries, work_dir: Path) -> list[_Contestant]:
    ttl = f"success_ttl={CACHING[APP_SCENARIO].success_ttl:g}"
    return [
        _Contestant(SHARED, ours, resolve(libraries.shared, work_dir), "ours-shared", ttl),
        _Contestant(
            IN_PROCESS, ours, resolve(libraries.in_process, work_dir), "ours-in-process", ttl
        ),
        _Contestant(peer_py_healthcheck.NAME, peer_py_healthcheck, None, "py-healthcheck", ttl),
        _Contestant(
            peer_flask_healthz.NAME,
            peer_flask_healthz,
            None,
            "flask-healthz",
            "none: flask-healthz has no cache, every request calls the check",
        ),
    ]


def server_settings(settings: GunicornSettings, worker_class: str) -> GunicornSettings:
    """Four workers of *worker_class*; a sync worker has one thread."""
    threads = 1 if worker_class == "sync" else settings.threads
    return dataclasses.replace(
        settings, workers=WORKERS, worker_class=worker_class, threads=threads
    )


def _confirm_library(server: Server, library: Library) -> None:
    """Refuse to measure a server that imported another flask_healthcheck than *library*."""
    answer = get(server.address, ours.LIBRARY_PATH, timeout=10.0)
    found = answer.body.decode(errors="replace").strip()
    if answer.status != 200 or Path(found).resolve() != library.package.resolve():
        raise RuntimeError(
            f"the server meant to run {library.package} runs {found or answer.status!r}; "
            f"see {server.log_path}"
        )


def call_figures(calls: list[tuple[int, float]], ttl: float, seconds: float) -> dict[str, Any]:
    """The calls of the counted check during a flood of *seconds*, for the whole server.

    ``calls_per_ttl`` spreads them over the flood; ``max_calls_in_a_ttl`` counts them in
    windows of *ttl* from the first call, which shows a burst the average hides.
    """
    per_process = Counter(pid for pid, _ in calls)
    windows: Counter[int] = Counter()
    if calls:
        first = min(moment for _, moment in calls)
        windows.update(int((moment - first) // ttl) for _, moment in calls)
    return {
        "total_calls": len(calls),
        "calls_per_ttl": round(len(calls) * ttl / seconds, 2) if seconds else None,
        "max_calls_in_a_ttl": max(windows.values(), default=0),
        "processes_calling": len(per_process),
        "check_calls_per_process": {str(pid): count for pid, count in per_process.items()},
    }


def _median(values: list[float], digits: int) -> float | None:
    return round(statistics.median(values), digits) if values else None


def _cpu_per_request(column: list[LoadResult]) -> float | None:
    """The median over *column* of the workers' CPU time per request, in microseconds."""
    values = [_cpu_per_request_of(result) * 1e6 for result in column]
    return _median([value for value in values if not math.isnan(value)], 1)


def _statuses(column: list[LoadResult]) -> dict[str, int]:
    merged: Counter[str] = Counter()
    for result in column:
        merged.update({str(status): count for status, count in result.statuses.items()})
    return dict(sorted(merged.items()))


def _ratios(
    mine: list[LoadResult], reference: list[LoadResult], measure: Callable[[LoadResult], float]
) -> float | None:
    """The median over the cycles of ``measure(mine) / measure(reference)``, same cycle."""
    ratios = []
    for own, other in zip(mine, reference, strict=True):
        numerator, denominator = measure(own), measure(other)
        if denominator and not math.isnan(numerator) and not math.isnan(denominator):
            ratios.append(numerator / denominator)
    return _median(ratios, 3)


def _p50_ms(result: LoadResult) -> float:
    return result.percentile(0.5) * 1000


def _mean_ms(result: LoadResult) -> float:
    """The mean latency of *result*: under a closed loop, connections over requests/s."""
    if not result.latencies:
        return math.nan
    return statistics.fmean(result.latencies) * 1000


def _alternating_probes(
    first: Server, second: Server, path: str, count: int
) -> tuple[list[Answer], list[Answer]]:
    """*count* requests of *path* to each server, one at a time and each on a new connection,
    as a kubelet probes; the servers take turns, so a burst elsewhere falls on both alike."""
    answers: tuple[list[Answer], list[Answer]] = ([], [])
    for index in range(count):
        order = (0, 1) if index % 2 == 0 else (1, 0)
        for position in order:
            server = (first, second)[position]
            answers[position].append(get(server.address, path, timeout=5.0))
    return answers


def _probe_figures(answers: list[Answer]) -> dict[str, Any]:
    seconds = sorted(answer.seconds for answer in answers if answer.status is not None)
    return {
        "requests": len(answers),
        "statuses": dict(Counter(str(answer.status) for answer in answers)),
        "median_ms": round(statistics.median(seconds) * 1000, 3) if seconds else None,
        "p90_ms": (
            round(seconds[min(len(seconds) - 1, int(0.9 * len(seconds)))] * 1000, 3)
            if seconds
            else None
        ),
    }


def _cpu_per_request_of(result: LoadResult) -> float:
    if result.server_cpu is None or not result.requests:
        return math.nan
    return result.server_cpu / result.requests


def _columns(rows: list[list[LoadResult]]) -> list[list[LoadResult]]:
    """``rows[cycle][target]`` turned into ``columns[target][cycle]``."""
    return [list(column) for column in zip(*rows, strict=True)]


def _rounded(value: float, digits: int) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def _load_figures(column: list[LoadResult]) -> dict[str, Any]:
    merged = LoadResult(sum(result.duration for result in column), column[0].connections)
    for result in column:
        merged.merge(result)
    return {
        "cycles": [
            {
                "rps": round(result.rps, 1),
                "mean_ms": _rounded(_mean_ms(result), 3),
                "p50_ms": _rounded(_p50_ms(result), 3),
            }
            for result in column
        ],
        "median_rps": _median([result.rps for result in column], 1),
        "mean_ms": _rounded(_mean_ms(merged), 3),
        "p50_ms": _rounded(merged.percentile(0.5) * 1000, 3),
        "p99_ms": _rounded(merged.percentile(0.99) * 1000, 3),
        "median_server_cpu_us_per_request": _cpu_per_request(column),
        "statuses": _statuses(column),
        "errors": merged.errors,
    }


def _servers(
    contestants: list[_Contestant], gunicorn: GunicornSettings, work_dir: Path, worker_class: str
) -> tuple[list[Server], dict[str, Path]]:
    """A server for each contestant, and the file where each one's check counts its calls."""
    servers, counters = [], {}
    for contestant in contestants:
        label = f"{contestant.label}-{worker_class}"
        counter_dir = work_dir / f"counter-{label}"
        counter_dir.mkdir(parents=True, exist_ok=True)
        counters[contestant.name] = counter_dir / COUNTER_FILE
        environment = {"BENCH_COUNTER_DIR": str(counter_dir)}
        if contestant.library is not None:  # its files in the run's directory, not in /tmp
            environment["HEALTHCHECK_SHARED_DIR"] = str(work_dir / f"shared-{label}")
        servers.append(
            Server(
                contestant.module.__name__,
                APP_SCENARIO,
                gunicorn,
                work_dir,
                environment,
                library=contestant.library.directory if contestant.library else None,
                label=label,
            )
        )
    return servers, counters


def _flood(plan: Plan, contestant: _Contestant, server: Server, counter: Path) -> dict[str, Any]:
    """Readiness of one server under the flood, and its check's calls meanwhile."""
    counter.unlink(missing_ok=True)
    pids = tuple(server.worker_pids())
    cpu_before = cpu_seconds(pids)
    result = closed_loop(
        server.address,
        contestant.module.READY_PATH,
        connections=plan.flood_clients,
        duration=plan.flood_seconds,
        processes=plan.load_processes,
    )
    result.server_cpu = cpu_seconds(pids) - cpu_before
    return {
        "path": contestant.module.READY_PATH,
        "caching": contestant.caching,
        **result.summary(),
        **call_figures(read_calls(counter), CACHING[APP_SCENARIO].success_ttl, result.duration),
        "worker_pids": list(pids),
    }


def _liveness(plan: Plan, paired: list[tuple[_Contestant, Server]]) -> dict[str, Any]:
    """Each app's liveness and its bare route, in slices taking every server in turn."""
    targets = []
    for contestant, server in paired:
        pids = tuple(server.worker_pids())
        targets.append(Target(server.address, contestant.module.LIVE_PATH, pids))
        targets.append(Target(server.address, BARE_PATH, pids))
    columns = _columns(
        interleaved(
            targets,
            connections=plan.flood_clients,
            slice_seconds=plan.server_seconds,
            cycles=plan.server_warmup_cycles + plan.server_cycles,
            processes=plan.load_processes,
        )[plan.server_warmup_cycles :]
    )
    liveness: dict[str, Any] = {}
    for position, (contestant, _) in enumerate(paired):
        live, bare = columns[2 * position], columns[2 * position + 1]
        liveness[contestant.name] = {
            "path": contestant.module.LIVE_PATH,
            "median_ratio_to_bare": _ratios(live, bare, lambda result: result.rps),
            "live": _load_figures(live),
            "bare": _load_figures(bare),
        }
    return liveness


def _readiness(plan: Plan, shared_server: Server, in_process_server: Server) -> dict[str, Any]:
    """flask_healthcheck's readiness, shared store against in-process cache: probe-like
    requests taking turns, then slices of load taking turns."""
    probes = _alternating_probes(
        shared_server, in_process_server, ours.READY_PATH, plan.server_probe_requests
    )
    targets = [
        Target(server.address, ours.READY_PATH, tuple(server.worker_pids()))
        for server in (shared_server, in_process_server)
    ]
    shared, in_process = _columns(
        interleaved(
            targets,
            connections=plan.flood_clients,
            slice_seconds=plan.server_ready_seconds,
            cycles=plan.server_warmup_cycles + plan.server_ready_cycles,
            processes=plan.load_processes,
        )[plan.server_warmup_cycles :]
    )
    probe_shared, probe_in_process = (_probe_figures(answers) for answers in probes)
    return {
        "path": ours.READY_PATH,
        "probe": {
            SHARED: probe_shared,
            IN_PROCESS: probe_in_process,
            "median_ratio": (
                round(probe_shared["median_ms"] / probe_in_process["median_ms"], 3)
                if probe_shared["median_ms"] and probe_in_process["median_ms"]
                else None
            ),
        },
        SHARED: _load_figures(shared),
        IN_PROCESS: _load_figures(in_process),
        "median_p50_ratio": _ratios(shared, in_process, _p50_ms),
        "median_mean_ratio": _ratios(shared, in_process, _mean_ms),
        "median_rps_ratio": _ratios(shared, in_process, lambda result: result.rps),
        "median_cpu_ratio": _ratios(shared, in_process, _cpu_per_request_of),
    }


def _run(
    plan: Plan,
    settings: GunicornSettings,
    work_dir: Path,
    contestants: list[_Contestant],
    worker_class: str,
) -> dict[str, Any]:
    """Every measurement of the scenario under one worker class."""
    gunicorn = server_settings(settings, worker_class)
    servers, counters = _servers(contestants, gunicorn, work_dir, worker_class)
    paired = list(zip(contestants, servers, strict=True))
    with serving(servers):
        for contestant, server in paired:
            if contestant.library is not None:
                _confirm_library(server, contestant.library)
            # As in Kubernetes, the startup probe passes (in every worker) before the rest.
            closed_loop(
                server.address,
                contestant.module.STARTUP_PATH,
                connections=WORKERS * 4,
                duration=0.3,
                processes=plan.load_processes,
            )
        floods = {}
        for contestant, server in paired:
            print(
                f"  {worker_class}: readiness, {plan.flood_clients} clients for "
                f"{plan.flood_seconds:g} s: {contestant.name}",
                flush=True,
            )
            floods[contestant.name] = _flood(plan, contestant, server, counters[contestant.name])
        print(
            f"  {worker_class}: liveness and the bare route of every app, {plan.server_cycles} "
            f"cycles of {plan.server_seconds:g} s after {plan.server_warmup_cycles} of warm-up",
            flush=True,
        )
        liveness = _liveness(plan, paired)
        print(
            f"  {worker_class}: readiness, shared store and in-process cache, "
            f"{plan.server_probe_requests} probe-like requests each, then "
            f"{plan.server_ready_cycles} cycles of {plan.server_ready_seconds:g} s after "
            f"{plan.server_warmup_cycles} of warm-up",
            flush=True,
        )
        by_name = {contestant.name: server for contestant, server in paired}
        readiness = _readiness(plan, by_name[SHARED], by_name[IN_PROCESS])
    return {
        "gunicorn": gunicorn.describe(),
        "flood": floods,
        "liveness": liveness,
        "readiness_shared_vs_in_process": readiness,
    }


def multi_worker(
    plan: Plan, settings: GunicornSettings, work_dir: Path, libraries: Libraries
) -> dict[str, Any]:
    """The scenario under each of the plan's worker classes (see the module's docs)."""
    contestants = _contestants(libraries, work_dir)
    runs = {
        worker_class: _run(plan, settings, work_dir, contestants, worker_class)
        for worker_class in plan.server_worker_classes
    }
    return {
        "workers": WORKERS,
        "check_seconds": COUNTED_CHECK_SECONDS,
        "success_ttl": CACHING[APP_SCENARIO].success_ttl,
        "clients": plan.flood_clients,
        "seconds": plan.flood_seconds,
        "cycles": plan.server_cycles,
        "warmup_cycles": plan.server_warmup_cycles,
        "slice_seconds": plan.server_seconds,
        "ready_cycles": plan.server_ready_cycles,
        "ready_slice_seconds": plan.server_ready_seconds,
        "probe_requests": plan.server_probe_requests,
        "caching": {contestant.name: contestant.caching for contestant in contestants},
        "libraries": {
            contestant.name: contestant.library.as_dict()
            for contestant in contestants
            if contestant.library is not None
        },
        "worker_classes": runs,
    }
