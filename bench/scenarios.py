"""The measurements: four against every contestant they apply to, under the same server, and
three of flask_healthcheck alone (the exec probe, the probe port, background checks); the
multi-worker scenario has a module of its own, :mod:`bench.multi_worker`.

Every function starts the servers of one scenario together, measures one contestant at a time,
and returns plain data for ``latest.json``; :mod:`bench.report` turns it into tables.
"""

from __future__ import annotations

import dataclasses
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.apps import bare, operations, ours, peer_flask_healthz, peer_py_healthcheck
from bench.apps.checks import (
    CACHING,
    COUNTED_CHECK_SECONDS,
    COUNTER_FILE,
    HANG_DEADLINE,
    SLOW_CHECK_SECONDS,
    read_calls,
)
from bench.load import Answer, LoadResult, Target, closed_loop, get, interleaved
from bench.servers import HOST, GunicornSettings, Server, free_port, serving

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
    cli_rounds: int
    probe_requests: int
    probe_hold_seconds: float
    modes_requests: int
    modes_cycles: int
    modes_warmup_cycles: int
    modes_seconds: float
    modes_connections: int
    #: The multi-worker scenario (:mod:`bench.multi_worker`): its worker classes, and the
    #: alternating slices after its floods, of liveness and the bare routes (``server_``), and
    #: of readiness, shared store against in-process cache (``server_ready_``).
    server_worker_classes: tuple[str, ...]
    server_cycles: int
    server_warmup_cycles: int
    server_seconds: float
    server_ready_cycles: int
    server_ready_seconds: float
    #: Probe-like readiness requests (one at a time, a new connection each) to each of the two.
    server_probe_requests: int


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
    cli_rounds=100,
    probe_requests=50,
    probe_hold_seconds=4.0,
    modes_requests=40,
    modes_cycles=4,
    modes_warmup_cycles=1,
    modes_seconds=1.0,
    modes_connections=16,
    server_worker_classes=("sync", "gthread"),
    server_cycles=3,
    server_warmup_cycles=1,
    server_seconds=1.0,
    server_ready_cycles=10,
    server_ready_seconds=0.5,
    server_probe_requests=200,
)
SMOKE = Plan(
    # A server's first slices after its connections open can stall under gunicorn's gthread
    # workers, which would leave a single slice empty: one slice of warm-up, and two measured.
    live_cycles=2,
    live_warmup_cycles=1,
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
    cli_rounds=2,
    probe_requests=3,
    probe_hold_seconds=2.0,
    modes_requests=2,
    modes_cycles=1,
    modes_warmup_cycles=0,
    modes_seconds=0.3,
    modes_connections=8,
    server_worker_classes=("sync",),
    server_cycles=1,
    server_warmup_cycles=0,
    server_seconds=0.3,
    server_ready_cycles=1,
    server_ready_seconds=0.3,
    server_probe_requests=5,
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
            calls = Counter(pid for pid, _ in read_calls(counter))
            contestants[module.NAME] = {
                "path": module.READY_PATH,
                **result.summary(),
                "check_calls_per_process": {str(pid): count for pid, count in calls.items()},
                "max_calls_per_process": max(calls.values(), default=0),
                "total_calls": sum(calls.values()),
            }
    return {
        "clients": plan.flood_clients,
        "seconds": plan.flood_seconds,
        "success_ttl": CACHING["ttl"].success_ttl,
        "contestants": contestants,
    }


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _latencies(seconds: list[float]) -> dict[str, Any]:
    """Median, p90 and max of *seconds*, in milliseconds; None for no values."""
    if not seconds:
        return {"median_ms": None, "p90_ms": None, "max_ms": None}
    return {
        "median_ms": round(statistics.median(seconds) * 1000, 3),
        "p90_ms": round(_percentile(seconds, 0.9) * 1000, 3),
        "max_ms": round(max(seconds) * 1000, 3),
    }


#: What the exec-probe scenario runs, by the name the docs table gives it. ``URL`` is replaced.
PROBE_SCRIPT = Path(sys.executable).parent / "flask-healthcheck"
CURL_NAME = "curl -fsS -o /dev/null URL"


def _cold_start_commands(url: str) -> dict[str, list[str] | None]:
    """Each command of the comparison; None for a program this machine does not have."""
    curl = shutil.which("curl")
    probe = (
        [str(PROBE_SCRIPT)]
        if PROBE_SCRIPT.exists()
        else [sys.executable, "-m", "flask_healthcheck.console"]
    )
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "flask-healthcheck probe URL": [*probe, "probe", url],
        CURL_NAME: [curl, "-fsS", "-o", "/dev/null", url] if curl else None,
    }


def _timed_run(command: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system) and exit code of one run of *command*."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, completed.returncode


def probe_cli(plan: Plan, settings: GunicornSettings, work_dir: Path) -> dict[str, Any]:
    """Cold start of ``flask-healthcheck probe URL`` next to ``python -c pass`` and curl.

    Each round runs every command once, the order rotating from one round to the next, each a
    new process against the liveness endpoint of a running server, as an exec probe does.
    """
    server = Server(operations.__name__, "cli", settings, work_dir)
    with serving([server]):
        url = f"http://{HOST}:{server.port}{operations.LIVE_PATH}"
        commands = _cold_start_commands(url)
        present = {name: command for name, command in commands.items() if command is not None}
        print(
            f"  {plan.cli_rounds} rounds of {', '.join(present)}"
            + ("" if len(present) == len(commands) else " (curl is not installed)"),
            flush=True,
        )
        for warming in present.values():  # once each first: the page cache, not a cold disk
            _timed_run(warming)
        runs: dict[str, list[tuple[float, float, int]]] = {name: [] for name in present}
        names = list(present)
        for index in range(plan.cli_rounds):
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                runs[name].append(_timed_run(present[name]))
    entries: dict[str, Any] = {}
    for name, given in commands.items():
        if given is None:
            entries[name] = {"installed": False}
            continue
        walls = [wall for wall, _, _ in runs[name]]
        cpus = [cpu for _, cpu, _ in runs[name]]
        entries[name] = {
            "installed": True,
            "command": [part.replace(url, "URL") for part in given],
            "runs": len(walls),
            "failures": sum(code != 0 for _, _, code in runs[name]),
            **_latencies(walls),
            "min_ms": round(min(walls) * 1000, 3) if walls else None,
            "cpu_ms_median": round(statistics.median(cpus) * 1000, 3) if cpus else None,
            "wall_ms": [round(wall * 1000, 3) for wall in walls],
        }
    python, probe = entries["python -c pass"], entries["flask-healthcheck probe URL"]
    over = (
        round(probe["median_ms"] - python["median_ms"], 3)
        if probe.get("median_ms") is not None and python.get("median_ms") is not None
        else None
    )
    return {
        "rounds": plan.cli_rounds,
        "path": operations.LIVE_PATH,
        "commands": entries,
        "probe_over_python_median_ms": over,
    }


def _hold_workers(address: tuple[str, int], count: int, path: str) -> list[threading.Thread]:
    """*count* requests of *path*, each from a thread of its own, to keep every worker busy."""
    threads = [
        threading.Thread(target=get, args=(address, path), kwargs={"timeout": 60.0}, daemon=True)
        for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    return threads


#: Seconds the main port is given to answer while its workers should all be busy.
BLOCKED_TIMEOUT = 0.5


def _blocked_phase(
    server: Server, probe: tuple[str, int], plan: Plan, *, cpu: bool
) -> dict[str, Any]:
    """Probe-port liveness while every worker serves a slow request (asleep, or computing)."""
    query = f"?seconds={plan.probe_hold_seconds:g}" + ("&cpu=1" if cpu else "")
    holders = _hold_workers(server.address, server.settings.workers, operations.SLOW_PATH + query)
    time.sleep(0.5)  # every worker has taken its request
    before = get(server.address, operations.LIVE_PATH, timeout=BLOCKED_TIMEOUT)
    answers = [
        get(probe, operations.PROBE_LIVE_PATH, timeout=5.0) for _ in range(plan.probe_requests)
    ]
    after = get(server.address, operations.LIVE_PATH, timeout=BLOCKED_TIMEOUT)
    for thread in holders:
        thread.join(plan.probe_hold_seconds + 30)
    return {
        "workers_busy": "computing (pure Python)" if cpu else "asleep in a request",
        "main_port_answered": [before.status, after.status],
        "main_port_blocked": before.status is None and after.status is None,
        **_answers(answers),
        **_latencies([answer.seconds for answer in answers]),
    }


def probe_port(plan: Plan, settings: GunicornSettings, work_dir: Path) -> dict[str, Any]:
    """Liveness on the probe port while every gunicorn sync worker is held by a slow request.

    Every request is a new connection, as a kubelet's probe is. The main port is asked too,
    with a short timeout, before and after: it must not answer, or the workers were not all
    busy and the figures mean nothing.
    """
    sync = dataclasses.replace(settings, worker_class="sync", threads=1)
    port = free_port()
    server = Server(
        operations.__name__, "probe_port", sync, work_dir, {"BENCH_PROBE_PORT": str(port)}
    )
    probe = (HOST, port)
    with serving([server]):
        due = time.monotonic() + 10.0
        while get(probe, operations.PROBE_LIVE_PATH, timeout=1.0).status != 200:
            if time.monotonic() > due:
                raise RuntimeError(f"the probe port did not answer; see {server.log_path}")
            time.sleep(0.05)
        print(
            f"  {plan.probe_requests} liveness requests on each port, idle; then on the probe "
            f"port while both workers are held for {plan.probe_hold_seconds:g} s, asleep and "
            "computing",
            flush=True,
        )
        idle: dict[str, Any] = {}
        for name, address, path in (
            ("probe port", probe, operations.PROBE_LIVE_PATH),
            ("main port", server.address, operations.LIVE_PATH),
        ):
            answers = [get(address, path, timeout=5.0) for _ in range(plan.probe_requests)]
            idle[name] = {**_answers(answers), **_latencies([a.seconds for a in answers])}
        blocked = _blocked_phase(server, probe, plan, cpu=False)
        computing = _blocked_phase(server, probe, plan, cpu=True)
    return {
        "gunicorn": sync.describe(),
        "requests": plan.probe_requests,
        "hold_seconds": plan.probe_hold_seconds,
        "blocked_timeout_s": BLOCKED_TIMEOUT,
        "idle": idle,
        "blocked": blocked,
        "computing": computing,
    }


def readiness_modes(plan: Plan, settings: GunicornSettings, work_dir: Path) -> dict[str, Any]:
    """The same 20 ms check answered from the background, on every request, and from the cache.

    Probe-like consecutive requests (a new connection each) give the latency a probe sees;
    slices of load that alternate the three servers give requests/s and CPU per request.
    """
    modes = list(operations.MODES)
    # Each worker loads the app and starts its own scheduler. With --preload the master starts
    # it, and a worker forked while the master's run of the check is in flight inherits a run
    # that no thread of its own will finish: it never runs the check again.
    each_worker = dataclasses.replace(settings, preload=False)
    servers = [Server(operations.__name__, mode, each_worker, work_dir) for mode in modes]
    path = operations.READY_PATH
    with serving(servers):
        samples = {}
        for mode, server in zip(modes, servers, strict=True):
            # Start every worker (its scheduler, its first result), as a startup probe would.
            closed_loop(
                server.address,
                path,
                connections=server.settings.workers * 4,
                duration=0.3,
                processes=plan.load_processes,
            )
            samples[mode] = get(server.address, path, timeout=5.0).status
        print(
            f"  {plan.modes_requests} consecutive readiness requests each, then "
            f"{plan.modes_cycles} cycles of {plan.modes_seconds:g} s with "
            f"{plan.modes_connections} connections: {', '.join(modes)}",
            flush=True,
        )
        sequential: dict[str, list[Answer]] = {mode: [] for mode in modes}
        for _ in range(plan.modes_requests):
            for mode, server in zip(modes, servers, strict=True):
                sequential[mode].append(get(server.address, path, timeout=5.0))
        targets = [Target(server.address, path, tuple(server.worker_pids())) for server in servers]
        measured = interleaved(
            targets,
            connections=plan.modes_connections,
            slice_seconds=plan.modes_seconds,
            cycles=plan.modes_warmup_cycles + plan.modes_cycles,
            processes=plan.load_processes,
        )[plan.modes_warmup_cycles :]
    entries: dict[str, Any] = {}
    for index, mode in enumerate(modes):
        column = [row[index] for row in measured]
        merged = LoadResult(plan.modes_seconds * len(column), plan.modes_connections)
        for result in column:
            merged.merge(result)
        cpu = [
            result.server_cpu / result.requests * 1e6
            for result in column
            if result.server_cpu is not None and result.requests
        ]
        answers = sequential[mode]
        entries[mode] = {
            "title": operations.MODES[mode],
            "sample_status": samples[mode],
            "sequential": {**_answers(answers), **_latencies([a.seconds for a in answers])},
            "load": {
                "median_rps": round(statistics.median(result.rps for result in column), 1),
                "p50_ms": round(merged.percentile(0.5) * 1000, 3),
                "p99_ms": round(merged.percentile(0.99) * 1000, 3),
                "median_server_cpu_us_per_request": round(statistics.median(cpu), 1)
                if cpu
                else None,
                "statuses": {str(k): v for k, v in sorted(merged.statuses.items())},
                "errors": merged.errors,
            },
        }
    return {
        "gunicorn": each_worker.describe(),
        "check_seconds": COUNTED_CHECK_SECONDS,
        "connections": plan.modes_connections,
        "seconds": plan.modes_seconds,
        "cycles": plan.modes_cycles,
        "modes": entries,
    }


def plan_dict(plan: Plan) -> dict[str, Any]:
    return asdict(plan)
