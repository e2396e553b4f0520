"""``python -m bench``: run every scenario, write the JSON and the docs table, say PASS or FAIL.

The whole run takes about three minutes; ``--smoke`` takes a few seconds and only
proves that the harness works (its figures mean nothing and its targets are not enforced).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import report, scenarios
from bench.servers import ROOT, GunicornSettings

DEFAULT_JSON = ROOT / "bench" / "results" / "latest.json"
DEFAULT_DOCS = ROOT / "docs" / "benchmarks.rst"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--smoke", action="store_true", help="a quick run that only proves the harness works"
    )
    parser.add_argument(
        "--json",
        type=Path,
        help=f"where to write the raw results (default: {DEFAULT_JSON.relative_to(ROOT)}; "
        "none for --smoke)",
    )
    parser.add_argument(
        "--docs",
        type=Path,
        help=f"the page whose table to replace (default: {DEFAULT_DOCS.relative_to(ROOT)}; "
        "none for --smoke)",
    )
    return parser.parse_args(argv)


def run(plan: scenarios.Plan, settings: GunicornSettings, *, smoke: bool) -> dict[str, Any]:
    """Every scenario, one after another, and the metadata and targets of the run."""
    started = time.monotonic()
    results: dict[str, Any] = {
        "meta": report.metadata(settings.describe(), scenarios.plan_dict(plan))
    }
    results["meta"]["smoke"] = smoke
    results["meta"]["command"] = "python -m bench" + (" --smoke" if smoke else "")
    with tempfile.TemporaryDirectory(prefix="flask-healthcheck-bench-") as work:
        work_dir = Path(work)
        steps = (
            ("liveness", scenarios.liveness),
            ("slow_readiness", scenarios.slow_readiness),
            ("hung_check", scenarios.hung_check),
            ("ttl_flood", scenarios.ttl_flood),
            ("probe_cli", scenarios.probe_cli),
            ("probe_port", scenarios.probe_port),
            ("readiness_modes", scenarios.readiness_modes),
        )
        timings: dict[str, float] = {}
        for key, step in steps:
            print(f"{key}:", flush=True)
            step_started = time.monotonic()
            results[key] = step(plan, settings, work_dir)
            timings[key] = round(time.monotonic() - step_started, 1)
            print(f"  ({timings[key]:.1f} s)", flush=True)
        results["meta"]["step_durations_s"] = timings
    results["meta"]["duration_s"] = round(time.monotonic() - started, 1)
    results["meta"]["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
    results["targets"] = [target.as_dict() for target in report.targets(results)]
    return results


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    smoke = arguments.smoke
    plan = scenarios.SMOKE if smoke else scenarios.FULL
    json_path = arguments.json or (None if smoke else DEFAULT_JSON)
    docs_path = arguments.docs or (None if smoke else DEFAULT_DOCS)
    print(f"running: {shlex.join([sys.executable, '-m', 'bench', *(argv or sys.argv[1:])])}")
    results = run(plan, GunicornSettings(), smoke=smoke)
    table = report.rst(results)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {json_path}")
    if docs_path is not None:
        report.write_docs(docs_path, table)
        print(f"wrote the table in {docs_path}")
    print()
    for target in results["targets"]:
        print(
            f"{target['result']}  {target['number']}. {target['title']}: "
            f"{target['measured']} (required {target['required']})"
        )
    print(f"run took {results['meta']['duration_s']:.0f} s")
    failed = [target for target in results["targets"] if target["result"] != "PASS"]
    return 1 if failed and not smoke else 0
