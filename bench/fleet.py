"""The fleet benchmark: four pods of four workers on one fleet store, beside the peers.

``python -m bench.fleet`` starts a private ``redis-server`` and gunicorn servers of four
workers each (``gthread``, four threads, ``--preload``):

- four pods of :mod:`bench.apps.fleet_pod` on the fleet store (``fleet on``),
- four pods of the same app without it (``fleet off``),
- one server each of py-healthcheck and flask-healthz with the ``ttl`` scenario's check
  (:mod:`bench.apps.checks`), for reference: they have no fleet.

Then:

1. **one run per TTL for the fleet**: every fleet-on pod takes a readiness flood at once for
   ``--flood`` seconds; the expensive ``schema`` check should run at most once per fleet TTL
   (5 s) for the whole fleet. The fleet-off pods take the same flood for comparison.
2. **latency**: alternating slices of readiness load on every server, the order rotating each
   cycle; the fleet-on pods' latency against the fleet-off pods' (target: at most 1.2x).

It prints a table and writes ``bench/results/fleet.json`` and the table beside it
(``fleet.txt``), which docs/fleet.rst includes.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.apps import fleet_pod, peer_flask_healthz, peer_py_healthcheck
from bench.apps.checks import COUNTER_FILE, read_calls
from bench.load import LoadResult, Target, closed_loop, interleaved
from bench.servers import GunicornSettings, Server, free_port, serving

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "fleet.json"
#: The table of the last run, which docs/fleet.rst includes.
TABLE = RESULTS.with_suffix(".txt")
PODS = 4
SETTINGS = GunicornSettings(workers=4, worker_class="gthread", threads=4, preload=True)
#: The target of the latency ratio, fleet on against fleet off.
RATIO_TARGET = 1.2


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("the fleet benchmark needs redis-server")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.3)
    return process, f"redis://127.0.0.1:{port}/0"


def flood_all(servers: list[Server], path: str, seconds: float, connections: int) -> LoadResult:
    """A closed-loop flood of *path* on every server at once."""
    with ThreadPoolExecutor(len(servers)) as pool:
        parts = list(
            pool.map(
                lambda server: closed_loop(
                    server.address, path, connections=connections, duration=seconds, processes=1
                ),
                servers,
            )
        )
    total = LoadResult(duration=seconds, connections=connections * len(servers))
    for part in parts:
        total.merge(part)
    return total


def latency(result: LoadResult, seconds: float) -> dict[str, float]:
    """*result*'s figures; *seconds* is the time it was under load (slices added up)."""
    mean = sum(result.latencies) / len(result.latencies) if result.latencies else math.nan
    return {
        "requests": result.requests,
        "rps": round(result.requests / seconds, 1),
        "mean_ms": round(mean * 1000, 3),
        "p50_ms": round(result.percentile(0.5) * 1000, 3),
        "p99_ms": round(result.percentile(0.99) * 1000, 3),
        "non_200": sum(count for status, count in result.statuses.items() if status != 200),
    }


def run(flood: float, slice_seconds: float, cycles: int, connections: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        redis_process, url = start_redis(base)
        on_calls, off_calls, logs = base / "on", base / "off", base / "logs"
        for directory in (on_calls, off_calls, logs):
            directory.mkdir()
        module = fleet_pod.__name__
        fleet_on = [
            Server(
                module, "ttl", SETTINGS, logs,
                {"BENCH_FLEET_URL": url, "BENCH_POD": f"pod-{index}",
                 "BENCH_COUNTER_DIR": str(on_calls)},
                label=f"on-{index}",
            )
            for index in range(PODS)
        ]  # fmt: skip
        fleet_off = [
            Server(module, "ttl", SETTINGS, logs, {"BENCH_COUNTER_DIR": str(off_calls)},
                   label=f"off-{index}")
            for index in range(PODS)
        ]  # fmt: skip
        peers = [
            Server(peer.__name__, "ttl", SETTINGS, logs, {"BENCH_COUNTER_DIR": str(base)})
            for peer in (peer_py_healthcheck, peer_flask_healthz)
        ]
        try:
            with serving([*fleet_on, *fleet_off, *peers]):
                for server in [*fleet_on, *fleet_off]:  # the first runs, before the counting
                    closed_loop(server.address, fleet_pod.READY_PATH, connections=1, duration=0.3)
                for directory in (on_calls, off_calls):
                    (directory / COUNTER_FILE).unlink(missing_ok=True)
                flooded = {}
                for name, servers, directory in (
                    ("fleet on", fleet_on, on_calls),
                    ("fleet off", fleet_off, off_calls),
                ):
                    result = flood_all(servers, fleet_pod.READY_PATH, flood, connections)
                    calls = read_calls(directory / COUNTER_FILE)
                    flooded[name] = {
                        **latency(result, flood),
                        "schema_calls": len(calls),
                        "allowed_calls": math.ceil(flood / fleet_pod.FLEET_TTL) + 1,
                    }
                targets = [
                    Target(server.address, path, tuple(server.worker_pids()))
                    for server, path in [
                        *((server, fleet_pod.READY_PATH) for server in [*fleet_on, *fleet_off]),
                        (peers[0], peer_py_healthcheck.READY_PATH),
                        (peers[1], peer_flask_healthz.READY_PATH),
                    ]
                ]
                rows = interleaved(
                    targets, connections=connections, slice_seconds=slice_seconds, cycles=cycles
                )
        finally:
            redis_process.terminate()
            redis_process.wait(5)
    groups = {
        "fleet on": range(PODS),
        "fleet off": range(PODS, 2 * PODS),
        "py-healthcheck": [2 * PODS],
        "flask-healthz": [2 * PODS + 1],
    }
    loads = {}
    for name, indexes in groups.items():
        merged = LoadResult(slice_seconds, connections)
        for row in rows:
            for index in indexes:
                merged.merge(row[index])
        loads[name] = latency(merged, slice_seconds * len(rows) * len(indexes))
    on, off = loads["fleet on"], loads["fleet off"]
    ratio = {key: round(on[key] / off[key], 3) for key in ("mean_ms", "p50_ms", "p99_ms")}
    return {
        "machine": {
            "python": platform.python_version(),
            "cpus": len(__import__("os").sched_getaffinity(0)),
            "servers": SETTINGS.describe(),
        },
        "flood": {"seconds": flood, "connections_per_pod": connections, **flooded},
        "latency": {
            "slice_seconds": slice_seconds,
            "cycles": cycles,
            "connections": connections,
            **loads,
        },
        "ratio_on_off": ratio,
        "targets": {
            "schema calls within the fleet TTL": flooded["fleet on"]["schema_calls"]
            <= flooded["fleet on"]["allowed_calls"],
            f"readiness latency on/off <= {RATIO_TARGET}x (mean and p50)": ratio["mean_ms"]
            <= RATIO_TARGET
            and ratio["p50_ms"] <= RATIO_TARGET,
        },
    }


def table(results: dict[str, Any]) -> str:
    flood = results["flood"]
    lines = [
        f"Readiness flood, {flood['seconds']:g} s on all four pods at once "
        f"({flood['connections_per_pod']} connections each; requests/s of the four):",
        "",
        "| | requests/s | p50 ms | p99 ms | schema calls | allowed |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in ("fleet on", "fleet off"):
        row = flood[name]
        lines.append(
            f"| {name} | {row['rps']} | {row['p50_ms']} | {row['p99_ms']} | "
            f"{row['schema_calls']} | {row['allowed_calls'] if name == 'fleet on' else '-'} |"
        )
    lines += [
        "",
        "Readiness latency, alternating slices (requests/s of one server):",
        "",
        "| | requests/s | mean ms | p50 ms | p99 ms | non-200 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in results["latency"].items():
        if isinstance(row, dict):
            lines.append(
                f"| {name} | {row['rps']} | {row['mean_ms']} | {row['p50_ms']} | "
                f"{row['p99_ms']} | {row['non_200']} |"
            )
    ratio = results["ratio_on_off"]
    lines += [
        "",
        f"Fleet on / off: mean {ratio['mean_ms']}x, p50 {ratio['p50_ms']}x, "
        f"p99 {ratio['p99_ms']}x.",
        "",
        *(f"- {'PASS' if held else 'FAIL'}: {name}" for name, held in results["targets"].items()),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__)
    parser.add_argument("--flood", type=float, default=12.0, help="seconds of flood (12)")
    parser.add_argument("--slice", type=float, default=2.0, help="seconds per slice (2)")
    parser.add_argument("--cycles", type=int, default=3, help="cycles of slices (3)")
    parser.add_argument("--connections", type=int, default=8, help="connections (8)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="the JSON file")
    args = parser.parse_args(argv)
    results = run(args.flood, args.slice, args.cycles, args.connections)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    args.output.with_suffix(".txt").write_text(table(results) + "\n")
    print(table(results))
    return 0 if all(results["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
