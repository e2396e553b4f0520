"""``python -m bench``: run every scenario, write the JSON and the docs table, say PASS or FAIL.

The whole run takes about six minutes, half of it the multi-worker scenario; ``--smoke`` takes
under a minute and only proves that the harness works (its figures mean nothing and its
targets are not enforced).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import report, scenarios
from bench.libraries import BEFORE_SHARED_STORE
from bench.multi_worker import WORKER_CLASSES, Libraries, multi_worker
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
    parser.add_argument(
        "--shared-library",
        metavar="REF",
        help="the git commit, branch or tag whose flask_healthcheck runs with the shared "
        "result store in the multi-worker scenario (default: the working tree)",
    )
    parser.add_argument(
        "--in-process-library",
        metavar="REF",
        help="the one that runs with the in-process cache (default: the last commit before "
        f"the shared store, {BEFORE_SHARED_STORE[:10]})",
    )
    parser.add_argument(
        "--worker-class",
        dest="worker_classes",
        action="append",
        choices=WORKER_CLASSES,
        help="a gunicorn worker class for the multi-worker scenario; repeat for several "
        "(default: sync and gthread; sync for --smoke)",
    )
    return parser.parse_args(argv)


def run(
    plan: scenarios.Plan,
    settings: GunicornSettings,
    *,
    smoke: bool,
    libraries: Libraries | None = None,
    command: str = "python -m bench",
) -> dict[str, Any]:
    """Every scenario, one after another, and the metadata and targets of the run."""
    started = time.monotonic()
    results: dict[str, Any] = {
        "meta": report.metadata(settings.describe(), scenarios.plan_dict(plan))
    }
    results["meta"]["smoke"] = smoke
    results["meta"]["command"] = command
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
            ("multi_worker", functools.partial(multi_worker, libraries=libraries or Libraries())),
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
    if arguments.worker_classes:
        plan = dataclasses.replace(
            plan, server_worker_classes=tuple(dict.fromkeys(arguments.worker_classes))
        )
    json_path = arguments.json or (None if smoke else DEFAULT_JSON)
    docs_path = arguments.docs or (None if smoke else DEFAULT_DOCS)
    given = sys.argv[1:] if argv is None else argv
    print(f"running: {shlex.join([sys.executable, '-m', 'bench', *given])}")
    libraries = Libraries(
        arguments.shared_library, arguments.in_process_library or BEFORE_SHARED_STORE
    )
    # The command as the docs show it: without the paths of this run's output.
    shown = ["--smoke"] if smoke else []
    if arguments.shared_library:
        shown += ["--shared-library", arguments.shared_library]
    if arguments.in_process_library:
        shown += ["--in-process-library", arguments.in_process_library]
    for worker_class in arguments.worker_classes or ():
        shown += ["--worker-class", worker_class]
    results = run(
        plan,
        GunicornSettings(),
        smoke=smoke,
        libraries=libraries,
        command=shlex.join(["python", "-m", "bench", *shown]),
    )
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
