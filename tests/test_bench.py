"""The benchmark harness works end to end; its figures are not judged here (see bench/)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import docutils.core
import docutils.utils
import pytest

from bench.libraries import BEFORE_SHARED_STORE
from bench.multi_worker import IN_PROCESS, SHARED

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(120)
def test_smoke_run_writes_the_json_and_a_valid_table_between_the_markers(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.rst"
    shutil.copy(ROOT / "docs" / "benchmarks.rst", page)
    prose_before, _, _ = page.read_text().partition(".. benchmark-results-start")
    output = tmp_path / "latest.json"

    run = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--json", str(output), "--docs", str(page)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads(output.read_text())
    assert results["meta"]["smoke"] is True
    assert [target["number"] for target in results["targets"]] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert {target["result"] for target in results["targets"]} <= {"PASS", "FAIL"}
    contestants = {"flask_healthcheck", "py-healthcheck", "flask-healthz", "bare Flask"}
    assert set(results["liveness"]["contestants"]) == contestants | {
        "flask_healthcheck, through Flask"
    }
    for scenario in ("slow_readiness", "hung_check", "ttl_flood"):
        assert set(results[scenario]["contestants"]) == contestants - {"bare Flask"}
    # Every server answered: the harness measured something for each contestant.
    assert all(entry["median_rps"] > 0 for entry in results["liveness"]["contestants"].values())
    assert results["slow_readiness"]["contestants"]["flask_healthcheck"]["answered"] >= 1
    # flask_healthcheck alone: the exec probe's cold start, the probe port, readiness modes.
    commands = results["probe_cli"]["commands"]
    assert set(commands) == {
        "python -c pass",
        "flask-healthcheck probe URL",
        "curl -fsS -o /dev/null URL",
    }
    for name in ("python -c pass", "flask-healthcheck probe URL"):
        assert commands[name]["failures"] == 0
        assert commands[name]["median_ms"] > 0
    port = results["probe_port"]
    assert port["blocked"]["main_port_blocked"] is True
    assert port["blocked"]["statuses"] == {"200": port["blocked"]["requests"]}
    modes = results["readiness_modes"]["modes"]
    assert set(modes) == {"background", "on_request", "cached"}
    assert all(entry["sample_status"] == 200 for entry in modes.values())
    assert all(entry["load"]["median_rps"] > 0 for entry in modes.values())
    _assert_multi_worker_counts_the_calls_of_every_worker(results["multi_worker"])

    text = page.read_text()
    assert text.startswith(prose_before)
    assert ".. list-table:: Side by side" in text
    assert ".. list-table:: Targets" in text
    assert ".. list-table:: Exec probe cold start" in text
    assert ".. list-table:: Probe port" in text
    assert ".. list-table:: Readiness with one check" in text
    assert ".. list-table:: One server of 4 sync workers per contestant" in text
    assert "PASS  1." in run.stdout or "FAIL  1." in run.stdout
    # Valid reST: docutils raises on any warning (Sphinx builds the docs with -W).
    docutils.core.publish_doctree(
        text, settings_overrides={"halt_level": docutils.utils.Reporter.WARNING_LEVEL}
    )


def _assert_multi_worker_counts_the_calls_of_every_worker(run: dict[str, Any]) -> None:
    """The multi-worker scenario's shape, and call counts that add up over the workers."""
    contestants = {SHARED, IN_PROCESS, "py-healthcheck", "flask-healthz"}
    assert list(run["worker_classes"]) == ["sync"]  # the smoke run's only worker class
    assert run["libraries"][SHARED]["ref"] is None  # the working tree
    assert run["libraries"][IN_PROCESS]["commit"] == BEFORE_SHARED_STORE
    assert run["libraries"][IN_PROCESS]["has_shared_store"] is False
    figures = run["worker_classes"]["sync"]
    assert set(figures["flood"]) == contestants
    assert set(figures["liveness"]) == contestants
    for name, flood in figures["flood"].items():
        per_process = flood["check_calls_per_process"]
        assert flood["total_calls"] >= 1, name  # each flood starts after its TTL has run out
        assert sum(per_process.values()) == flood["total_calls"], name
        assert {int(pid) for pid in per_process} <= set(flood["worker_pids"]), name
        assert set(flood["statuses"]) == {"200"}, name
        live = figures["liveness"][name]
        assert live["live"]["median_rps"] > 0, name
        assert live["bare"]["median_rps"] > 0, name
    # flask-healthz calls the check on every request: one line per answer in the flood, plus
    # at most one per client for the requests still in flight when it ended.
    healthz = figures["flood"]["flask-healthz"]
    assert healthz["requests"] <= healthz["total_calls"] <= healthz["requests"] + run["clients"]
    readiness = figures["readiness_shared_vs_in_process"]
    for name in (SHARED, IN_PROCESS):
        assert readiness[name]["median_rps"] > 0, name
        probes = run["probe_requests"]
        assert readiness["probe"][name]["statuses"] == {"200": probes}, name


def test_the_observability_benchmark_measures_every_contestant_in_both_scenarios(
    tmp_path: Path,
) -> None:
    output = tmp_path / "observability.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.observability", "--cycles", "2", "--block", "10",
         "--output", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert run.returncode in {0, 1}, run.stdout + run.stderr  # 1: a target failed, in a smoke
    results = json.loads(output.read_text())
    for scenario in ("cached", "every request"):
        contestants = results["scenarios"][scenario]["contestants"]
        assert len(contestants) == 9
        assert all(entry["cpu_us_per_answer"] > 0 for entry in contestants.values())
    assert len(results["targets"]) == 2
    assert (
        "| + history + OpenTelemetry, shared directory |" in output.with_suffix(".txt").read_text()
    )
