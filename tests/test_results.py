"""What a check may return, and the output a result keeps of it: masked, JSON where structured,
and capped."""

from __future__ import annotations

import json

import pytest

from flask_healthcheck import Outcome
from flask_healthcheck.results import EXPECTED, interpret, shown_detail, shown_output, truncate

# -- what a check may return --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "passed", "output"),
    [
        ((True, "ok"), True, "ok"),
        ((False, "down"), False, "down"),
        ((1, "ok"), True, "ok"),  # the Runscope library took 1 and 0
        ((0, "down"), False, "down"),
        ((True, {"rows": 3}), True, {"rows": 3}),
        ((True, None), True, None),
        ((True, [1, "two", 3.5, None, False]), True, [1, "two", 3.5, None, False]),
        ((False, 42), False, 42),
        ((True, {"nested": {"list": [{"a": 1}]}}), True, {"nested": {"list": [{"a": 1}]}}),
    ],
)
def test_a_flag_and_any_json_output_are_accepted(
    value: tuple[object, object], passed: bool, output: object
) -> None:
    assert interpret(value) == Outcome(passed, output)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ((2, "x"), f"returned a tuple (int, str), {EXPECTED}; its first element, of type int"),
        (("yes", "x"), "returned a tuple (str, str)"),
        ((1.0, "x"), "its first element, of type float, is not True, False, 1 or 0"),
        ((None, "x"), "its first element, of type NoneType"),
        ((True, "a", "b"), f"returned a tuple (bool, str, str), {EXPECTED}"),
        ((True,), f"returned a tuple (bool), {EXPECTED}"),
        (None, f"returned None, {EXPECTED}"),
        ({"ok": True}, f"returned a dict, {EXPECTED}"),
        (
            (True, object()),
            "returned a tuple (bool, object), "
            f"{EXPECTED}; its output (object) cannot be shown as JSON: Object of type object "
            "is not JSON serializable",
        ),
        ((True, {"when": {1, 2}}), "its output (dict) cannot be shown as JSON: Object of type set"),
        ((True, {(1, 2): "x"}), "its output (dict) cannot be shown as JSON: keys must be str"),
        ((True, float("nan")), "its output (float) cannot be shown as JSON: Out of range float"),
    ],
)
def test_what_runscope_could_not_render_is_refused_saying_what_and_what_is_expected(
    value: object, message: str
) -> None:
    with pytest.raises(TypeError) as raised:
        interpret(value)
    assert message in str(raised.value)


def test_a_cycle_or_deep_nesting_is_refused_not_a_crash() -> None:
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(TypeError, match="cannot be shown as JSON"):
        interpret((True, cycle))
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(TypeError, match="cannot be shown as JSON: nested too deeply"):
        interpret((True, deep))


def test_an_outcome_may_carry_a_structured_output_but_not_an_object() -> None:
    assert interpret(Outcome(True, {"rows": 3})).output == {"rows": 3}
    with pytest.raises(TypeError, match="output: str or a JSON-serialisable value"):
        interpret(Outcome(True, object()))


# -- the output a result keeps ----------------------------------------------------------------


def test_text_output_is_kept_as_text_with_credentials_masked() -> None:
    assert shown_output("cannot reach redis://:pw@cache:6379/0", 4096) == (
        "cannot reach redis://:***@cache:6379/0",
        None,
    )


def test_structured_output_is_compact_json_with_the_strings_inside_masked() -> None:
    output = {
        "dsn": "postgresql://app:hunter2@db/prod",
        "password": "hunter2",
        "api_key": 12345,
        "empty_secret": "",
        "servers": [{"url": "https://u:pw@a", "token": "t0k"}, "amqp://guest:guest@mq//"],
        "rows": 3,
    }
    text, data = shown_output(output, 4096)
    assert data is not None
    assert json.loads(data) == {
        "dsn": "postgresql://app:***@db/prod",
        "password": "***",
        "api_key": "***",
        "empty_secret": "",
        "servers": [{"url": "https://u:***@a", "token": "***"}, "amqp://guest:***@mq//"],
        "rows": 3,
    }
    assert text == data
    assert "hunter2" not in data
    assert "t0k" not in data
    assert "12345" not in data
    assert ": " not in data
    assert ", " not in data


def test_none_is_no_text_and_json_null() -> None:
    assert shown_output(None, 4096) == ("", "null")
    assert shown_output([], 4096) == ("[]", "[]")
    assert shown_output(0, 4096) == ("0", "0")


def test_a_long_output_is_cut_to_the_limit_with_a_marker_saying_how_much() -> None:
    text, data = shown_output("x" * (1024 * 1024), 4096)
    assert data is None
    assert len(text) <= 4096
    cut = 1024 * 1024 - text.index("...")
    assert text.endswith(f"...[{cut} characters cut]")
    assert text.startswith("x" * 4000)


def test_structured_output_longer_than_the_limit_becomes_cut_text() -> None:
    text, data = shown_output({"rows": list(range(5000))}, 500)
    assert data is None  # cut JSON would be no JSON
    assert len(text) <= 500
    assert text.startswith('{"rows":[0,1,2,')
    assert text.endswith(" characters cut]")


def test_secrets_are_masked_before_the_cut_so_none_is_left_half_shown() -> None:
    secret = "postgresql://app:correct-horse-battery-staple@db/prod"
    cut_inside_the_password = 20 + len("...[99 characters cut]")
    text, _ = shown_output(secret + " " + "y" * 70, cut_inside_the_password)
    assert "correct" not in text
    assert text.startswith("postgresql://app:***")


def test_truncate_keeps_short_text_and_never_exceeds_the_limit() -> None:
    assert truncate("short", 100) == "short"
    for length in (101, 999, 1000, 10_000, 123_457):
        assert len(truncate("z" * length, 100)) <= 100


def test_a_detail_is_masked_and_capped_like_the_output() -> None:
    assert shown_detail(None, 100) is None
    detail = shown_detail("raised OSError: password=hunter2 " + "q" * 500, 100)
    assert detail is not None
    assert len(detail) <= 100
    assert detail.startswith("raised OSError: password=*** qqq")
