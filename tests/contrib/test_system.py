"""DiskCheck, MemoryCheck and CpuCheck on this machine's real resources and real small volumes.

Limits are chosen relative to the usage measured just before, so the tests hold on any machine.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from flask import Flask

from flask_healthcheck import HealthCheck, MissingDependencyError
from flask_healthcheck.contrib.system import CpuCheck, DiskCheck, MemoryCheck, format_bytes
from tests.services import small_volume


def fill(directory: Path, up_to_bytes: int | None = None) -> None:
    """Write into *directory* up to *up_to_bytes*, or until its volume has no byte left."""
    with open(directory / "ballast", "wb", buffering=0) as ballast, contextlib.suppress(OSError):
        if up_to_bytes is not None:
            ballast.write(b"\0" * up_to_bytes)
            return
        while True:
            ballast.write(b"\0" * 4096)


def root_percent() -> float:
    return float(psutil.disk_usage("/").percent)


def memory_percent() -> float:
    return float(psutil.virtual_memory().percent)


# -- DiskCheck ---------------------------------------------------------------------------------


def test_disk_passes_below_its_limits_with_percent_and_free_bytes() -> None:
    current = root_percent()
    outcome = DiskCheck("/", warn=min(100.0, current + 5), fail=min(100.0, current + 10))()
    assert outcome.passed
    assert outcome.warning is (current + 5 > 100)
    assert outcome.observed_unit == "%"
    assert isinstance(outcome.observed_value, float)
    assert abs(outcome.observed_value - current) < 2
    assert outcome.output.startswith(f"{outcome.observed_value:.1f}% used, ")
    assert outcome.detail == f"/: {outcome.output}"
    free = format_bytes(psutil.disk_usage("/").free).split(" ")[1]
    assert f" {free} free of " in outcome.output


def test_disk_fails_at_or_above_its_fail_limit() -> None:
    limit = max(0.0, root_percent() - 2)
    outcome = DiskCheck("/", fail=limit)()
    assert not outcome.passed
    assert f"used (at or above the {limit:g}% fail limit), " in outcome.output


def test_disk_warns_between_its_limits_and_still_passes() -> None:
    current = root_percent()
    outcome = DiskCheck("/", warn=max(0.0, current - 2), fail=min(100.0, current + 2))()
    assert outcome.passed
    assert outcome.warning
    assert "warn limit" in outcome.output


def test_disk_defaults_are_80_percent_warn_and_90_percent_fail() -> None:
    check = DiskCheck()
    assert (check.paths, check.warn, check.fail) == (("/",), 80.0, 90.0)
    current = root_percent()
    if 78 < current < 92:
        pytest.skip(f"the root disk is {current}% used, too near a default limit to compare")
    outcome = check()
    assert outcome.passed is (current < 90)
    assert outcome.warning is (80 <= current < 90)


def test_disk_reports_each_path_and_observes_the_fullest(tmp_path: Path) -> None:
    outcome = DiskCheck(["/", tmp_path], warn=None, fail=None)()
    assert outcome.passed
    first, second = outcome.output.split("; ")
    assert outcome.detail == f"/: {first}; {tmp_path}: {second}"  # paths for the token holder
    expected = max(root_percent(), float(psutil.disk_usage(str(tmp_path)).percent))
    assert isinstance(outcome.observed_value, float)
    assert abs(outcome.observed_value - expected) < 2


def test_disk_fails_for_a_path_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    outcome = DiskCheck(["/", missing], warn=None, fail=None)()
    assert not outcome.passed
    assert outcome.output.endswith("; cannot read its file system (no such file or directory)")
    assert outcome.detail is not None
    assert f"{missing}: cannot read its file system (no such" in outcome.detail


def test_full_volume_fails_the_check(tmp_path: Path) -> None:
    with small_volume(tmp_path / "full") as volume:
        fill(volume)
        outcome = DiskCheck(volume)()
        assert not outcome.passed
        assert outcome.observed_value == 100.0
        assert outcome.output == (
            "100.0% used (at or above the 90% fail limit), 0 B free of 1.0 MiB"
        )
        assert outcome.detail == f"{volume}: {outcome.output}"


def test_volume_filling_up_fails_readiness_but_not_liveness(
    make_app: Callable[..., Flask], health: HealthCheck, tmp_path: Path
) -> None:
    with small_volume(tmp_path / "filling") as volume:
        health.add_check(DiskCheck(volume))
        client = make_app(HEALTHCHECK_SUCCESS_TTL=0, HEALTHCHECK_FAILED_TTL=0).test_client()
        assert client.get("/healthz/ready").status_code == 200  # started with room to spare
        fill(volume)
        response = client.get("/healthz/ready")
        assert response.status_code == 503
        disk = next(r for r in response.get_json()["results"] if r["checker"] == "disk")
        assert disk["output"].startswith("100.0% used")
        assert client.get("/healthz/live").status_code == 200


def test_nearly_full_volume_warns_and_readiness_stays_up(
    make_app: Callable[..., Flask], health: HealthCheck, tmp_path: Path
) -> None:
    with small_volume(tmp_path / "nearly-full") as volume:
        fill(volume, up_to_bytes=870 * 1024)  # 85% of 1 MiB
        health.add_check(DiskCheck(volume, name="uploads-disk"))
        response = (
            make_app()
            .test_client()
            .get("/healthz/ready", headers={"Accept": "application/health+json"})
        )
        assert response.status_code == 200
        body = json.loads(response.data)
        (entry,) = body["checks"]["uploads-disk"]
        assert entry["status"] == "warn"
        assert 80 <= entry["observedValue"] < 90
        assert entry["observedUnit"] == "%"
        assert body["status"] == "warn"


@pytest.mark.parametrize(
    "options",
    [{"warn": 120}, {"fail": -1}, {"warn": "80"}, {"fail": True}, {"paths": []}],
)
def test_disk_rejects_bad_limits_at_start_up(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        DiskCheck(**options)  # type: ignore[arg-type]


# -- MemoryCheck -------------------------------------------------------------------------------


def test_memory_passes_without_limits_and_reports_available_bytes() -> None:
    outcome = MemoryCheck(warn=None, fail=None)()
    assert outcome.passed
    assert not outcome.warning
    assert outcome.output.startswith("memory ")
    assert " available of " in outcome.output
    assert outcome.observed_unit == "%"
    assert isinstance(outcome.observed_value, float)
    assert 0 <= outcome.observed_value <= 100


def test_memory_warns_from_its_warn_limit() -> None:
    outcome = MemoryCheck(warn=memory_percent() / 2)()
    assert outcome.passed
    assert outcome.warning


def test_memory_fails_from_its_fail_limit() -> None:
    outcome = MemoryCheck(fail=memory_percent() / 2)()
    assert not outcome.passed
    assert "fail limit" in outcome.output


def test_memory_defaults_warn_at_85_percent_and_never_fail() -> None:
    check = MemoryCheck()
    assert (check.warn, check.fail) == (85.0, None)
    assert check().passed


# -- CpuCheck ----------------------------------------------------------------------------------


def test_cpu_first_run_measures_over_its_interval() -> None:
    outcome = CpuCheck(warn=None, interval=0.3)()
    assert outcome.passed
    assert outcome.observed_unit == "%"
    assert isinstance(outcome.observed_value, float)
    assert 0 <= outcome.observed_value <= 100
    assert "% busy over the last 0.3 s on " in outcome.output
    assert ", load average " in outcome.output


def test_cpu_later_run_averages_since_the_previous_run() -> None:
    check = CpuCheck(warn=None, interval=0.2)
    check()
    time.sleep(1.0)
    percent, window = check.measure()
    assert window >= 0.9  # since the previous run, not a fresh 0.2 s sample
    assert 0 <= percent <= 100


def test_cpu_run_long_after_the_previous_measures_afresh() -> None:
    check = CpuCheck(warn=None, interval=0.2, max_window=0.3)
    check()
    time.sleep(0.6)
    _, window = check.measure()
    assert window < 0.55  # a fresh 0.2 s sample, not the 0.6 s since the previous run


def test_cpu_warns_and_fails_at_its_limits() -> None:
    warned = CpuCheck(warn=0, interval=0.1)()
    assert warned.passed
    assert warned.warning
    failed = CpuCheck(fail=0, interval=0.1)()
    assert not failed.passed
    assert "at or above the 0% fail limit" in failed.output


def test_cpu_defaults_warn_at_90_percent_and_never_fail() -> None:
    check = CpuCheck()
    assert (check.warn, check.fail, check.interval) == (90.0, None, 0.5)


@pytest.mark.parametrize(
    "options", [{"interval": 0}, {"interval": 1, "max_window": 0.5}, {"warn": 101}]
)
def test_cpu_rejects_bad_options_at_start_up(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        CpuCheck(**options)


# -- all -------------------------------------------------------------------------------------


def test_checks_default_to_readiness_and_take_overrides(health: HealthCheck) -> None:
    for check, name in ((DiskCheck(), "disk"), (MemoryCheck(), "memory"), (CpuCheck(), "cpu")):
        spec = health.add_check(check)
        assert (spec.name, spec.tags, spec.critical) == (name, {"ready"}, True)
    spec = health.add_check(
        DiskCheck("/data", name="data-disk", critical=False, timeout=4), tags=("startup",)
    )
    assert (spec.name, spec.tags, spec.critical, spec.timeout) == (
        "data-disk",
        {"startup"},
        False,
        4,
    )


def test_format_bytes_uses_binary_units() -> None:
    assert format_bytes(0) == "0 B"
    assert format_bytes(1023) == "1023 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(5 * 1024**3) == "5.0 GiB"


def test_missing_psutil_raises_an_error_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psutil", None)
    monkeypatch.delitem(sys.modules, "flask_healthcheck.contrib.system")
    with pytest.raises(MissingDependencyError) as caught:
        importlib.import_module("flask_healthcheck.contrib.system")
    assert caught.value.extra == "psutil"
