"""Targets, the reST tables of ``docs/benchmarks.rst`` and the metadata of a run."""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench.apps import bare, ours, peer_flask_healthz, peer_py_healthcheck
from bench.multi_worker import IN_PROCESS, SHARED
from bench.scenarios import CONTESTANTS, CURL_NAME, THREAD_SLACK, THROUGH_FLASK

START_MARKER = ".. benchmark-results-start"
END_MARKER = ".. benchmark-results-end"
PACKAGES = (
    "flask-health-checks",
    "py-healthcheck",
    "flask-healthz",
    "flask",
    "werkzeug",
    "gunicorn",
)
#: Liveness requests/s of ours over the bare route's, at least.
LIVENESS_RATIO = 0.9
#: Median readiness latency with eight 100 ms checks, at most.
SLOW_MEDIAN_MS = 130.0
#: Margin over the deadline every answer must keep while a check hangs.
HANG_MARGIN_MS = 50.0
#: Median liveness latency on the probe port while every worker is busy, at most.
PROBE_PORT_MEDIAN_MS = 100.0
#: Check calls the whole multi-worker server may make in a flood, over one per TTL.
SERVER_CALLS_SLACK = 2
#: Readiness p50 latency with the shared store over the in-process cache's, at most.
SHARED_READINESS_RATIO = 1.2
#: Liveness requests/s over those of a bare route of the same app and server, at least.
SERVER_LIVENESS_RATIO = 1.0


def metadata(settings_description: str, plan: dict[str, Any]) -> dict[str, Any]:
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "nproc": len(os.sched_getaffinity(0)),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "packages": versions,
        "gunicorn": settings_description,
        "load_average_before": [round(value, 2) for value in os.getloadavg()],
        "plan": plan,
    }


@dataclass(frozen=True)
class Target:
    number: int
    title: str
    required: str
    measured: str
    passed: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "title": self.title,
            "required": self.required,
            "measured": self.measured,
            "result": "PASS" if self.passed else "FAIL",
        }


def targets(results: dict[str, Any]) -> list[Target]:
    """Every target of the run, numbered; flask_healthcheck's figures against each bound."""
    return [*_targets_of_one_server(results), *_multi_worker_targets(results["multi_worker"])]


def _targets_of_one_server(results: dict[str, Any]) -> list[Target]:
    live = results["liveness"]["contestants"][ours.NAME]
    ratio = live["median_ratio_to_bare"] or 0.0
    live_ok = ratio >= LIVENESS_RATIO and set(live["statuses"]) == {"200"}
    slow = results["slow_readiness"]["contestants"][ours.NAME]
    slow_ok = slow["statuses"] == {"200": slow["requests"]} and slow["median_ms"] <= SLOW_MEDIAN_MS
    hang_run = results["hung_check"]
    hang = hang_run["contestants"][ours.NAME]
    bound_ms = hang_run["deadline_s"] * 1000 + HANG_MARGIN_MS
    hang_ok = (
        hang["answered"] == hang["requests"]
        and hang["max_ms"] <= bound_ms
        and hang["max_thread_growth"] <= THREAD_SLACK
    )
    flood_run = results["ttl_flood"]
    flood = flood_run["contestants"][ours.NAME]
    allowed_calls = math.ceil(flood_run["seconds"] / flood_run["success_ttl"]) + 1
    flood_ok = 0 < flood["max_calls_per_process"] <= allowed_calls and set(flood["statuses"]) == {
        "200"
    }
    port_run = results["probe_port"]
    blocked = port_run["blocked"]
    port_median = blocked["median_ms"]
    port_ok = (
        blocked["main_port_blocked"]
        and blocked["statuses"] == {"200": blocked["requests"]}
        and port_median is not None
        and port_median <= PROBE_PORT_MEDIAN_MS
    )
    main_port = (
        f"the main port gave no answer within {port_run['blocked_timeout_s']:g} s"
        if blocked["main_port_blocked"]
        else "the main port answered: the workers were not all busy"
    )
    return [
        Target(
            1,
            "liveness requests/s against the bare route",
            f">= {LIVENESS_RATIO:g}x",
            f"{ratio:.2f}x ({live['median_rps']:,.0f} vs "
            f"{results['liveness']['contestants'][bare.NAME]['median_rps']:,.0f} requests/s)"
            + ("" if set(live["statuses"]) == {"200"} else f"; statuses {live['statuses']}"),
            live_ok,
        ),
        Target(
            2,
            "readiness with 8 checks of 100 ms, median latency",
            f"<= {SLOW_MEDIAN_MS:g} ms",
            f"{slow['median_ms']:.1f} ms over {slow['requests']} requests",
            slow_ok,
        ),
        Target(
            3,
            f"{hang['requests']} readiness requests while a check hangs",
            f"each <= {bound_ms:g} ms; threads <= baseline + {THREAD_SLACK}",
            f"{hang['answered']}/{hang['requests']} answered, max {hang['max_ms']:.1f} ms; "
            f"threads +{hang['max_thread_growth']}",
            hang_ok,
        ),
        Target(
            4,
            f"{flood_run['clients']} clients for {flood_run['seconds']:g} s, success_ttl=1: "
            "check calls per process",
            f"<= {allowed_calls}",
            f"max {flood['max_calls_per_process']} "
            f"({flood['total_calls']} in {len(flood['check_calls_per_process'])} processes)",
            flood_ok,
        ),
        Target(
            5,
            "probe-port liveness while every gunicorn sync worker is held by a slow request, "
            "median latency",
            f"<= {PROBE_PORT_MEDIAN_MS:g} ms",
            f"{_number(port_median, '.1f')} ms over {blocked['requests']} requests, "
            f"{blocked['answered']} answered (p90 {_number(blocked['p90_ms'], '.1f')} ms); "
            + main_port,
            port_ok,
        ),
    ]


def _only_200(statuses: dict[str, int]) -> bool:
    return set(statuses) == {"200"}


def _no_store_note(run: dict[str, Any]) -> str:
    """Said next to the shared store's figures when its library has no store."""
    library = run["libraries"][SHARED]
    return "" if library["has_shared_store"] else "; no shared store in that library"


def _multi_worker_targets(run: dict[str, Any]) -> list[Target]:
    """Targets 6 to 8: flask_healthcheck with the shared store, under every worker class."""
    classes = run["worker_classes"]
    allowed_calls = math.ceil(run["seconds"] / run["success_ttl"]) + SERVER_CALLS_SLACK
    calls, readiness, liveness = [], [], []
    calls_ok = readiness_ok = liveness_ok = bool(classes)
    for worker_class, figures in classes.items():
        flood = figures["flood"][SHARED]
        calls_ok &= 0 < flood["total_calls"] <= allowed_calls and _only_200(flood["statuses"])
        calls.append(
            f"{worker_class} {flood['total_calls']} "
            f"({_number(flood['calls_per_ttl'], '.1f')} per TTL)"
            + ("" if _only_200(flood["statuses"]) else f", statuses {flood['statuses']}")
        )
        compared = figures["readiness_shared_vs_in_process"]
        probe, under_load = compared["probe"], compared["median_mean_ratio"]
        readiness_ok &= (
            probe["median_ratio"] is not None
            and probe["median_ratio"] <= SHARED_READINESS_RATIO
            and under_load is not None
            and under_load <= SHARED_READINESS_RATIO
            and _only_200(probe[SHARED]["statuses"])
            and _only_200(compared[SHARED]["statuses"])
        )
        readiness.append(
            f"{worker_class} probe {_number(probe['median_ratio'], '.2f')}x "
            f"({_ms(probe[SHARED]['median_ms'])} vs {_ms(probe[IN_PROCESS]['median_ms'])}), "
            f"under load {_number(under_load, '.2f')}x"
        )
        live = figures["liveness"][SHARED]
        live_ratio = live["median_ratio_to_bare"]
        liveness_ok &= (
            live_ratio is not None
            and live_ratio >= SERVER_LIVENESS_RATIO
            and _only_200(live["live"]["statuses"])
        )
        liveness.append(
            f"{worker_class} {_number(live_ratio, '.2f')}x "
            f"({_number(live['live']['median_rps'], ',.0f')} vs "
            f"{_number(live['bare']['median_rps'], ',.0f')} requests/s)"
        )
    note = _no_store_note(run)
    workers = f"{run['workers']} workers"
    return [
        Target(
            6,
            f"{workers}, {run['clients']} clients for {run['seconds']:g} s on readiness, "
            f"success_ttl={run['success_ttl']:g}: check calls of the whole server "
            "(shared store)",
            f"<= {allowed_calls}",
            "; ".join(calls) + note,
            calls_ok,
        ),
        Target(
            7,
            f"{workers}, readiness latency with the shared store against the in-process "
            "cache: median of probe-like requests, and mean under load (median of the "
            "per-cycle ratios)",
            f"<= {SHARED_READINESS_RATIO:g}x",
            "; ".join(readiness) + note,
            readiness_ok,
        ),
        Target(
            8,
            f"{workers}, liveness requests/s against a bare route of the same app (shared store)",
            f">= {SERVER_LIVENESS_RATIO:g}x",
            "; ".join(liveness) + note,
            liveness_ok,
        ),
    ]


def _number(value: float | None, spec: str) -> str:
    """*value* formatted, or "n/a" when the run had nothing to measure it from."""
    return "n/a" if value is None else format(value, spec)


def _threads(entry: dict[str, Any]) -> str:
    pairs = [
        f"{entry['threads_baseline'].get(pid, '?')} → {peak}"
        for pid, peak in sorted(entry["threads_peak"].items())
    ]
    return ", ".join(pairs) or "n/a"


def _hang_cell(entry: dict[str, Any]) -> str:
    statuses = ", ".join(
        f"{'no answer' if status == 'None' else status} x{count}"
        for status, count in sorted(entry["statuses"].items())
    )
    if entry["answered"] == entry["requests"]:
        answered = f"{entry['answered']}/{entry['requests']} answered ({statuses})"
        return f"{answered}, max {entry['max_ms']:,.0f} ms"
    return (
        f"{entry['answered']}/{entry['requests']} answered; gave up after the client's "
        f"{entry['client_timeout_s']:g} s timeout ({statuses})"
    )


def _rows(results: dict[str, Any]) -> list[list[str]]:
    live = results["liveness"]
    slow = results["slow_readiness"]["contestants"]
    hang_run = results["hung_check"]
    hang = hang_run["contestants"]
    flood_run = results["ttl_flood"]
    flood = flood_run["contestants"]
    names = [module.NAME for module in CONTESTANTS]

    def row(title: str, cell: Any) -> list[str]:
        return [title, *(cell(name) for name in names)]

    def checked(table: dict[str, Any], render: Any) -> Any:
        return lambda name: render(table[name]) if name in table else "n/a"

    def live_rps(name: str) -> str:
        entry = live["contestants"][name]
        cell = f"{entry['median_rps']:,.0f}"
        others = {status: count for status, count in entry["statuses"].items() if status != "200"}
        if others:
            cell += " (" + ", ".join(f"{count:,} x {status}" for status, count in others.items())
            cell += ")"
        return cell

    def through_flask() -> str:
        entry = live["contestants"][THROUGH_FLASK]
        return (
            f"{_number(entry['median_ratio_to_bare'], '.2f')}x; {entry['median_rps']:,.0f}; "
            f"{_number(entry['median_server_cpu_us_per_request'], ',.0f')} µs CPU per request"
        )

    return [
        ["Measurement", *names],
        row(
            f"Liveness requests/s (median of {len(live['cycles'])} slices of "
            f"{live['seconds']:g} s, {live['connections']} keep-alive connections)",
            live_rps,
        ),
        row(
            "Liveness, relative to the bare route (median of the per-cycle ratios)",
            lambda name: f"{_number(live['contestants'][name]['median_ratio_to_bare'], '.2f')}x",
        ),
        [
            "Liveness through Flask's routing and the view (``?format=json``), relative to the "
            "bare route; requests/s",
            through_flask(),
            *["n/a"] * (len(names) - 1),
        ],
        row(
            "Liveness, server CPU per request (µs, both workers)",
            lambda name: _number(
                live["contestants"][name]["median_server_cpu_us_per_request"], ",.0f"
            ),
        ),
        row(
            "Readiness, 8 checks of 100 ms, no cache: median latency",
            checked(slow, lambda entry: f"{entry['median_ms']:,.0f} ms (n={entry['requests']})"),
        ),
        row(
            f"Readiness with a check that never returns (deadline {hang_run['deadline_s']:g} s)",
            checked(hang, _hang_cell),
        ),
        row(
            "… worker threads, baseline → peak (per worker)",
            checked(hang, _threads),
        ),
        row(
            f"Readiness, {flood_run['clients']} clients x {flood_run['seconds']:g} s, "
            "success_ttl=1: check calls, max per process",
            checked(
                flood,
                lambda entry: (
                    f"{entry['max_calls_per_process']:,} ({entry['total_calls']:,} in all)"
                ),
            ),
        ),
        row(
            "… readiness requests/s during that flood",
            checked(flood, lambda entry: f"{entry['rps']:,.0f}"),
        ),
    ]


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f} ms"


def _cold_start_rows(run: dict[str, Any]) -> list[list[str]]:
    rows = [["Command (a new process each run)", "Median", "p90", "CPU per run (median)", "Runs"]]
    for name, entry in run["commands"].items():
        if not entry["installed"]:
            rows.append([f"``{name}``", "not installed on this machine", "n/a", "n/a", "0"])
            continue
        failures = f" ({entry['failures']} failed)" if entry["failures"] else ""
        rows.append(
            [
                f"``{name}``",
                _ms(entry["median_ms"]),
                _ms(entry["p90_ms"]),
                _ms(entry["cpu_ms_median"]),
                f"{entry['runs']}{failures}",
            ]
        )
    return rows


def _probe_port_rows(run: dict[str, Any]) -> list[list[str]]:
    rows = [["Liveness request (a new connection each)", "Answered", "Median", "p90", "Max"]]

    def row(title: str, entry: dict[str, Any]) -> list[str]:
        statuses = ", ".join(
            f"{'no answer' if status == 'None' else status} x{count}"
            for status, count in sorted(entry["statuses"].items())
        )
        answered = f"{entry['answered']}/{entry['requests']} ({statuses})"
        return [
            title,
            answered,
            _ms(entry["median_ms"]),
            _ms(entry["p90_ms"]),
            _ms(entry["max_ms"]),
        ]

    rows.append(row("Probe port ``/live``, workers idle", run["idle"]["probe port"]))
    rows.append(row("Main port ``/healthz/live``, workers idle", run["idle"]["main port"]))
    for key in ("blocked", "computing"):
        entry = run[key]
        main = (
            f"no answer within {run['blocked_timeout_s']:g} s, before and after"
            if entry["main_port_blocked"]
            else f"answered ({entry['main_port_answered']}): not every worker was busy"
        )
        title = (
            f"Probe port ``/live``, every worker {entry['workers_busy']} for "
            f"{run['hold_seconds']:g} s (main port meanwhile: {main})"
        )
        rows.append(row(title, entry))
    return rows


def _modes_rows(run: dict[str, Any]) -> list[list[str]]:
    modes = run["modes"]
    rows = [["Readiness", *(entry["title"] for entry in modes.values())]]
    count = max((entry["sequential"]["requests"] for entry in modes.values()), default=0)

    def row(title: str, cell: Any) -> list[str]:
        return [title, *(cell(entry) for entry in modes.values())]

    def rps(entry: dict[str, Any]) -> str:
        load = entry["load"]
        others = {code: n for code, n in load["statuses"].items() if code != "200"}
        extra = ", ".join(f"{n:,} x {code}" for code, n in others.items())
        return f"{load['median_rps']:,.0f}" + (f" ({extra})" if extra else "")

    rows += [
        row(
            f"Consecutive requests, a new connection each (n={count}): median / p90",
            lambda entry: (
                f"{_ms(entry['sequential']['median_ms'])} / {_ms(entry['sequential']['p90_ms'])}"
            ),
        ),
        row(
            f"Requests/s, {run['connections']} keep-alive connections (median of "
            f"{run['cycles']} slices of {run['seconds']:g} s, alternating)",
            rps,
        ),
        row(
            "… latency under that load, p50 / p99",
            lambda entry: f"{_ms(entry['load']['p50_ms'])} / {_ms(entry['load']['p99_ms'])}",
        ),
        row(
            "… server CPU per request (µs, both workers)",
            lambda entry: _number(entry["load"]["median_server_cpu_us_per_request"], ",.0f"),
        ),
    ]
    return rows


#: The columns of the multi-worker tables, in order.
SERVER_COLUMNS = (SHARED, IN_PROCESS, peer_py_healthcheck.NAME, peer_flask_healthz.NAME)


def _with_other_statuses(rps: float | None, statuses: dict[str, int]) -> str:
    others = {code: count for code, count in statuses.items() if code != "200"}
    extra = ", ".join(f"{count:,} x {code}" for code, count in others.items())
    return _number(rps, ",.0f") + (f" ({extra})" if extra else "")


def _multi_worker_rows(
    run: dict[str, Any], figures: dict[str, Any], packages: dict[str, str]
) -> list[list[str]]:
    flood, liveness = figures["flood"], figures["liveness"]
    compared = figures["readiness_shared_vs_in_process"]

    def row(title: str, cell: Any) -> list[str]:
        return [title, *(cell(name) for name in SERVER_COLUMNS)]

    def library(name: str) -> str:
        if name in run["libraries"]:
            entry = run["libraries"][name]
            store = "with" if entry["has_shared_store"] else "without"
            return f"{entry['described']}, {store} ``store.py``"
        return f"{name} {packages.get(name, '')}"

    def calls(name: str) -> str:
        entry = flood[name]
        return (
            f"{entry['total_calls']:,} ({_number(entry['calls_per_ttl'], ',.1f')} per TTL; "
            f"at most {entry['max_calls_in_a_ttl']:,} in one TTL window; from "
            f"{entry['processes_calling']} of {run['workers']} workers)"
        )

    def probe(name: str) -> str:
        if name not in (SHARED, IN_PROCESS):
            return "n/a"
        entry = compared["probe"][name]
        others = {code: count for code, count in entry["statuses"].items() if code != "200"}
        extra = "".join(f", {count} x {code}" for code, count in others.items())
        return f"{_ms(entry['median_ms'])} / {_ms(entry['p90_ms'])}{extra}"

    def readiness(name: str) -> str:
        if name not in (SHARED, IN_PROCESS):
            return "n/a"
        entry = compared[name]
        return (
            f"{_with_other_statuses(entry['median_rps'], entry['statuses'])}; "
            f"{_ms(entry['mean_ms'])}; {_ms(entry['p50_ms'])} / {_ms(entry['p99_ms'])}"
        )

    def readiness_ratio(name: str) -> str:
        if name == SHARED:
            ratios = [compared["probe"]["median_ratio"]] + [
                compared[key]
                for key in ("median_mean_ratio", "median_p50_ratio", "median_cpu_ratio")
            ]
            return "; ".join(f"{_number(ratio, '.2f')}x" for ratio in ratios)
        return "1.00x; 1.00x; 1.00x; 1.00x (the reference)" if name == IN_PROCESS else "n/a"

    def slices(cycles: int, seconds: float) -> str:
        return (
            f"median of {cycles} slices of {seconds:g} s, {run['clients']} connections, alternating"
        )

    ttl = f"{run['success_ttl']:g} s"
    return [
        ["Measurement", *SERVER_COLUMNS],
        row("flask_healthcheck package, or the peer's version", library),
        row("Cache of the check's result", lambda name: run["caching"][name]),
        row(
            f"Check calls of the whole server, {run['clients']} clients x {run['seconds']:g} s "
            f"on readiness (TTL windows of {ttl})",
            calls,
        ),
        row(
            "… readiness requests/s during that flood",
            lambda name: _with_other_statuses(flood[name]["rps"], flood[name]["statuses"]),
        ),
        row(
            "… readiness latency during that flood, p50 / p99",
            lambda name: (
                f"{_ms(flood[name]['latency_ms']['p50'])} / {_ms(flood[name]['latency_ms']['p99'])}"
            ),
        ),
        row(
            "… server CPU per readiness request during that flood (µs, four workers)",
            lambda name: _number(flood[name].get("server_cpu_us_per_request"), ",.0f"),
        ),
        row(
            f"Liveness requests/s ({slices(run['cycles'], run['slice_seconds'])})",
            lambda name: _with_other_statuses(
                liveness[name]["live"]["median_rps"], liveness[name]["live"]["statuses"]
            ),
        ),
        row(
            "… a bare Flask route of the same app (``/bare``), requests/s in the same slices",
            lambda name: _with_other_statuses(
                liveness[name]["bare"]["median_rps"], liveness[name]["bare"]["statuses"]
            ),
        ),
        row(
            "… liveness relative to that bare route (median of the per-cycle ratios)",
            lambda name: f"{_number(liveness[name]['median_ratio_to_bare'], '.2f')}x",
        ),
        row(
            f"Readiness, probe-like requests (n={run['probe_requests']} each, one at a time on "
            "a new connection, the two servers taking turns): median / p90",
            probe,
        ),
        row(
            "Readiness under load, requests/s; mean latency; p50 / p99 ("
            f"{slices(run['ready_cycles'], run['ready_slice_seconds'])})",
            readiness,
        ),
        row(
            "… shared store relative to the in-process cache: probe-like median; under load "
            "(median of the per-cycle ratios), mean latency; p50; server CPU per request",
            readiness_ratio,
        ),
    ]


def _multi_worker_tables(run: dict[str, Any], packages: dict[str, str]) -> list[str]:
    lines: list[str] = []
    shared = run["libraries"][SHARED]
    if shared["ref"] is not None:
        lines += [
            f"In the tables below the shared store column ran {shared['described']} "
            "(``--shared-library``); every other flask_healthcheck figure of this run is the "
            "working tree's.",
            "",
        ]
    if not shared["has_shared_store"]:
        lines += [
            f"Measured before the shared result store landed: {shared['described']} has no "
            "``flask_healthcheck/store.py``, so both flask_healthcheck columns cache in each "
            "worker.",
            "",
        ]
    for worker_class, figures in run["worker_classes"].items():
        lines += _list_table(
            f"One server of {run['workers']} {worker_class} workers per contestant, one check "
            f"of {run['check_seconds'] * 1000:g} ms; gunicorn: {figures['gunicorn']}",
            _multi_worker_rows(run, figures, packages),
        )
        lines.append("")
    return lines


def _list_table(title: str, rows: list[list[str]], widths: str | None = None) -> list[str]:
    lines = [f".. list-table:: {title}", "   :header-rows: 1"]
    if widths:
        lines.append(f"   :widths: {widths}")
    lines.append("")
    for cells in rows:
        for index, cell in enumerate(cells):
            text = " ".join(str(cell).split()) or "n/a"
            lines.append(f"   {'*' if index == 0 else ' '} - {text}")
    return lines


def rst(results: dict[str, Any]) -> str:
    """The text that goes between the markers of ``docs/benchmarks.rst``."""
    meta = results["meta"]
    packages = ", ".join(f"{name} {found}" for name, found in meta["packages"].items())
    load = " / ".join(
        f"{meta[key][0]:g}" for key in ("load_average_before", "load_average_after") if key in meta
    )
    mode = " (smoke run: durations cut short, figures meaningless)" if meta.get("smoke") else ""
    lines = [
        f"Run on {meta['date']}{mode} with ``{meta['command']}`` in {meta['duration_s']:.0f} s.",
        "",
        f"- Machine: {meta['nproc']} CPUs (``nproc``), {meta['machine']}; one-minute load "
        f"average before / after the run: {load}.",
        f"- Python {meta['python']}; {packages}.",
        f"- gunicorn, the same for every contestant: {meta['gunicorn']}.",
        "",
    ]
    lines += _list_table("Side by side", _rows(results))
    lines.append("")
    cli = results["probe_cli"]
    lines += _list_table(
        f"Exec probe cold start, {cli['rounds']} rounds against ``{cli['path']}``",
        _cold_start_rows(cli),
        "40 15 15 18 12",
    )
    over = cli["probe_over_python_median_ms"]
    if over is not None:
        lines += [
            "",
            f"The probe's median cold start is {abs(over):.1f} ms "
            f"{'above' if over >= 0 else 'below'} that of ``python -c pass``.",
        ]
    if not cli["commands"][CURL_NAME]["installed"]:
        lines += ["", "curl is not installed on this machine, so it was not measured."]
    lines.append("")
    port = results["probe_port"]
    lines += _list_table(
        f"Probe port (``HEALTHCHECK_PROBE_PORT``) under gunicorn: {port['gunicorn']}",
        _probe_port_rows(port),
        "44 20 12 12 12",
    )
    lines.append("")
    modes = results["readiness_modes"]
    lines += _list_table(
        f"Readiness with one check of {modes['check_seconds'] * 1000:g} ms: in the background, "
        f"on every request, or cached; gunicorn: {modes['gunicorn']}",
        _modes_rows(modes),
    )
    lines.append("")
    lines += _multi_worker_tables(results["multi_worker"], meta["packages"])
    target_rows = [["#", "Target (flask_healthcheck)", "Required", "Measured", "Result"]]
    target_rows += [
        [
            str(target["number"]),
            target["title"],
            target["required"],
            target["measured"],
            target["result"],
        ]
        for target in results["targets"]
    ]
    lines += _list_table("Targets", target_rows, "3 37 20 32 8")
    return "\n".join(lines) + "\n"


def write_docs(path: Path, text: str) -> None:
    """Replace what lies between the markers of *path* with *text*; the prose stays."""
    page = path.read_text()
    try:
        head, rest = page.split(START_MARKER + "\n", 1)
        _, tail = rest.split(END_MARKER, 1)
    except ValueError:
        raise SystemExit(f"{path} lacks the lines {START_MARKER!r} and {END_MARKER!r}") from None
    path.write_text(f"{head}{START_MARKER}\n\n{text}\n{END_MARKER}{tail}")
