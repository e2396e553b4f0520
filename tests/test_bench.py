"""The benchmark harness works end to end; its figures are not judged here (see bench/)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import docutils.core
import docutils.utils
import pytest

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
    assert [target["number"] for target in results["targets"]] == [1, 2, 3, 4, 5]
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

    text = page.read_text()
    assert text.startswith(prose_before)
    assert ".. list-table:: Side by side" in text
    assert ".. list-table:: Targets" in text
    assert ".. list-table:: Exec probe cold start" in text
    assert ".. list-table:: Probe port" in text
    assert ".. list-table:: Readiness with one check" in text
    assert "PASS  1." in run.stdout or "FAIL  1." in run.stdout
    # Valid reST: docutils raises on any warning (Sphinx builds the docs with -W).
    docutils.core.publish_doctree(
        text, settings_overrides={"halt_level": docutils.utils.Reporter.WARNING_LEVEL}
    )
