"""Pure rules of execution requests (no ZenML, no store): statuses, limits, cursors, wait
answers against JSON schemas, replay overrides and replay plans."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from typing import Any

import pytest

from kitaru_core.errors import (
    KitaruUsageError,
    KitaruValidationError,
    KitaruWaitValidationError,
)
from kitaru_core.models import ExecutionStatus, ReplayPlan
from kitaru_core.requests.executions import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    build_replay_plan,
    check_limit,
    decode_cursor,
    encode_cursor,
    parse_overrides,
    parse_status,
    validate_wait_value,
)


def test_these_rules_import_no_zenml() -> None:
    # Every surface calls these rules before touching the store; they must stay cheap.
    code = (
        "import sys, kitaru_core.requests.executions as r; "
        "r.validate_wait_value({'type': 'integer'}, 1, wait='w'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('zenml', 'sqlalchemy')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


# --- statuses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("running", ExecutionStatus.RUNNING),
        ("WAITING", ExecutionStatus.WAITING),
        ("  Completed ", ExecutionStatus.COMPLETED),
        ("failed", ExecutionStatus.FAILED),
        ("cancelled", ExecutionStatus.CANCELLED),
        (ExecutionStatus.FAILED, ExecutionStatus.FAILED),
    ],
)
def test_parse_status_accepts_the_five_public_words(text: Any, expected: ExecutionStatus) -> None:
    assert parse_status(text) is expected


@pytest.mark.parametrize("text", [None, "", "   "])
def test_parse_status_blank_means_any(text: str | None) -> None:
    assert parse_status(text) is None


@pytest.mark.parametrize("text", ["paused", "done", "stopped", "runing"])
def test_parse_status_rejects_zenml_and_unknown_words(text: str) -> None:
    with pytest.raises(KitaruValidationError) as caught:
        parse_status(text, field="--status")
    error = caught.value
    assert error.code == "validation_error"
    assert set(error.fields) == {"--status"}
    for word in ("running", "waiting", "completed", "failed", "cancelled"):
        assert word in error.message


# --- limits -----------------------------------------------------------------------------------


def test_check_limit_defaults_and_bounds() -> None:
    assert check_limit(None) == DEFAULT_LIMIT
    assert check_limit(1) == 1
    assert check_limit(MAX_LIMIT) == MAX_LIMIT
    assert check_limit(5000, maximum=5000) == 5000


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1, True, False, 2.5, "10"])
def test_check_limit_rejects_out_of_range_and_non_integers(limit: Any) -> None:
    with pytest.raises(KitaruValidationError) as caught:
        check_limit(limit, field="max_chars")
    assert caught.value.code == "validation_error"
    assert set(caught.value.fields) == {"max_chars"}
    assert str(MAX_LIMIT) in caught.value.message


# --- cursors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0, 1, 20, 199, 10_000])
def test_cursor_round_trip(offset: int) -> None:
    cursor = encode_cursor(offset)
    assert isinstance(cursor, str)
    assert "=" not in cursor  # safe in a URL and on a command line
    assert decode_cursor(cursor) == offset


def test_no_cursor_is_the_first_page() -> None:
    assert decode_cursor(None) == 0
    assert decode_cursor("") == 0


def _b64(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        "abc",
        _b64({"offset": 3}),  # someone else's cursor format
        _b64({"o": -5}),
        _b64({"o": "7"}),
        _b64([1, 2]),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_foreign_cursor_is_rejected(cursor: str) -> None:
    with pytest.raises(KitaruValidationError) as caught:
        decode_cursor(cursor, field="cursor")
    assert caught.value.code == "validation_error"
    assert "cursor" in caught.value.fields


# --- wait answers -----------------------------------------------------------------------------

REVIEW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "decision": {"type": "string", "enum": ["approve", "reject", "revise"]},
        "reviewer": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "level": {"type": "integer", "minimum": 1, "maximum": 5},
            },
            "required": ["name"],
        },
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["decision", "reviewer"],
    "additionalProperties": False,
}

GOOD_REVIEW = {"decision": "approve", "reviewer": {"name": "ada", "level": 3}, "tags": ["ok"]}


def _fields_of(value: Any, schema: dict[str, Any] | None = REVIEW_SCHEMA) -> dict[str, str]:
    with pytest.raises(KitaruWaitValidationError) as caught:
        validate_wait_value(schema, value, wait="review")
    error = caught.value
    assert error.code == "wait_validation_error"
    assert isinstance(error, KitaruValidationError)  # surfaces may catch either
    assert "review" in error.message
    return error.fields


def test_a_valid_nested_answer_passes() -> None:
    validate_wait_value(REVIEW_SCHEMA, GOOD_REVIEW, wait="review")
    validate_wait_value(REVIEW_SCHEMA, {**GOOD_REVIEW, "tags": []}, wait="review")


def test_an_enum_violation_names_its_field() -> None:
    fields = _fields_of({**GOOD_REVIEW, "decision": "maybe"})
    assert list(fields) == ["value.decision"]
    assert "approve" in fields["value.decision"]


def test_a_nested_field_error_names_the_full_path() -> None:
    fields = _fields_of({**GOOD_REVIEW, "reviewer": {"name": "ada", "level": 9}})
    assert list(fields) == ["value.reviewer.level"]
    assert "9" in fields["value.reviewer.level"]


def test_missing_required_keys_are_reported_where_they_are_missing() -> None:
    top = _fields_of({"reviewer": {"name": "ada"}})
    assert top == {"value": "'decision' is a required property"}
    nested = _fields_of({"decision": "approve", "reviewer": {"level": 2}})
    assert nested == {"value.reviewer": "'name' is a required property"}


def test_array_item_errors_carry_the_index() -> None:
    fields = _fields_of({**GOOD_REVIEW, "tags": ["ok", 7]})
    assert list(fields) == ["value.tags[1]"]
    assert "string" in fields["value.tags[1]"]
    too_many = _fields_of({**GOOD_REVIEW, "tags": ["a", "b", "c", "d"]})
    assert list(too_many) == ["value.tags"]


def test_several_problems_are_all_reported() -> None:
    fields = _fields_of({"decision": "maybe", "reviewer": {"name": 1}, "extra": True})
    assert set(fields) == {"value", "value.decision", "value.reviewer.name"}
    assert "extra" in fields["value"]


@pytest.mark.parametrize("value", [None, "approve", 3, ["approve"]])
def test_a_wrong_top_level_type_is_rejected(value: Any) -> None:
    fields = _fields_of(value)
    assert "value" in fields
    assert "object" in fields["value"]


@pytest.mark.parametrize(
    ("schema", "good", "bad"),
    [
        ({"type": "boolean"}, True, "yes"),
        ({"type": "integer"}, 3, 3.5),
        ({"type": "number"}, 2.5, "2.5"),
        ({"type": "string"}, "", None),
        ({"type": "array"}, [], {}),
    ],
)
def test_plain_schemas(schema: dict[str, Any], good: Any, bad: Any) -> None:
    validate_wait_value(schema, good, wait="plain")
    with pytest.raises(KitaruWaitValidationError) as caught:
        validate_wait_value(schema, bad, wait="plain")
    assert set(caught.value.fields) == {"value"}
    assert caught.value.details["schema"] == schema


def test_a_gate_takes_no_value() -> None:
    validate_wait_value(None, None, wait="gate")
    for value in (True, "continue", {}, 0):
        with pytest.raises(KitaruWaitValidationError) as caught:
            validate_wait_value(None, value, wait="gate")
        assert "gate" in caught.value.message
        assert set(caught.value.fields) == {"value"}


# --- replay overrides -------------------------------------------------------------------------


def test_parse_overrides_strips_the_prefix() -> None:
    assert parse_overrides(None) == {}
    assert parse_overrides({}) == {}
    parsed = parse_overrides({"checkpoint.fetch": {"a": 1}, "checkpoint.summarize_2": "text"})
    assert parsed == {"fetch": {"a": 1}, "summarize_2": "text"}


@pytest.mark.parametrize("key", ["fetch", "checkpoint.", "step.fetch", "Checkpoint.fetch", 3, ""])
def test_parse_overrides_rejects_keys_without_the_prefix(key: Any) -> None:
    with pytest.raises(KitaruValidationError) as caught:
        parse_overrides({key: 1})
    assert caught.value.code == "validation_error"
    assert "overrides" in caught.value.fields
    assert "checkpoint.<name>" in caught.value.message


# --- replay plans -----------------------------------------------------------------------------

CALLS = [
    ("fetch", "fetch"),
    ("analyze", "analyze"),
    ("analyze_2", "analyze"),
    ("summarize", "summarize"),
    ("publish", "publish"),
]


def test_plan_from_a_call_id() -> None:
    plan = build_replay_plan(CALLS, from_="analyze_2", overrides={})
    assert plan == ReplayPlan(
        from_checkpoint="analyze_2",
        reused=["fetch", "analyze"],
        overridden=[],
        rerun=["analyze_2", "summarize", "publish"],
    )


def test_plan_from_a_checkpoint_name_starts_at_its_first_call() -> None:
    plan = build_replay_plan(CALLS, from_="analyze", overrides={})
    assert plan.from_checkpoint == "analyze"
    assert plan.reused == ["fetch"]
    assert plan.rerun == ["analyze", "analyze_2", "summarize", "publish"]


def test_plan_from_the_first_call_reuses_nothing() -> None:
    plan = build_replay_plan(CALLS, from_="fetch", overrides={})
    assert plan.reused == []
    assert plan.rerun == [call for call, _ in CALLS]


def test_plan_with_only_an_override_starts_at_the_overridden_call() -> None:
    plan = build_replay_plan(CALLS, from_=None, overrides={"summarize": "given"})
    assert plan.from_checkpoint == "summarize"
    assert plan.reused == ["fetch", "analyze", "analyze_2"]
    assert plan.overridden == ["summarize"]
    assert plan.rerun == ["publish"]  # downstream of the override runs live


def test_plan_with_from_and_an_override_downstream() -> None:
    plan = build_replay_plan(CALLS, from_="analyze", overrides={"summarize": "given"})
    assert plan.reused == ["fetch"]
    assert plan.overridden == ["summarize"]
    assert plan.rerun == ["analyze", "analyze_2", "publish"]


def test_an_override_before_from_is_not_also_reused() -> None:
    plan = build_replay_plan(CALLS, from_="summarize", overrides={"fetch": "given"})
    assert plan.overridden == ["fetch"]
    assert "fetch" not in plan.reused
    assert plan.reused == ["analyze", "analyze_2"]
    assert plan.rerun == ["summarize", "publish"]


def test_every_call_lands_in_exactly_one_bucket() -> None:
    plan = build_replay_plan(CALLS, from_="analyze_2", overrides={"publish": 1, "fetch": 2})
    buckets = plan.reused + plan.overridden + plan.rerun
    assert sorted(buckets) == sorted(call for call, _ in CALLS)


@pytest.mark.parametrize(
    ("from_", "overrides", "field"),
    [
        ("nope", {}, "from_"),
        (None, {"nope": 1}, "overrides"),
        ("fetch", {"analyze_9": 1}, "overrides"),
    ],
)
def test_unknown_names_list_the_valid_ones(
    from_: str | None, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(KitaruValidationError) as caught:
        build_replay_plan(CALLS, from_=from_, overrides=overrides)
    error = caught.value
    assert error.code == "validation_error"
    assert set(error.fields) == {field}
    assert error.details["valid"] == [call for call, _ in CALLS]
    for call, _ in CALLS:
        assert call in error.message


def test_neither_from_nor_overrides_is_a_usage_error() -> None:
    with pytest.raises(KitaruUsageError) as caught:
        build_replay_plan(CALLS, from_=None, overrides={})
    error = caught.value
    assert error.code == "usage_error"
    assert not isinstance(error, KitaruValidationError)
    assert "from_" in error.hint


def test_an_execution_without_calls_has_nothing_to_replay_from() -> None:
    with pytest.raises(KitaruValidationError) as caught:
        build_replay_plan([], from_="fetch", overrides={})
    assert "none" in caught.value.message
