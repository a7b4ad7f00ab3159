"""Pure rules for execution requests: filters, paging, wait answers, replay plans."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from kitaru_core.errors import (
    KitaruNotFoundError,
    KitaruUsageError,
    KitaruValidationError,
    KitaruWaitValidationError,
    echo,
)
from kitaru_core.hints import EXECUTION_IDS, Hint
from kitaru_core.models import ExecutionStatus, ReplayPlan
from kitaru_core.requests import cursor as cursor_format

DEFAULT_LIMIT = 20
MAX_LIMIT = 200
OVERRIDE_PREFIX = "checkpoint."


EXEC_ID_HINT = EXECUTION_IDS


def unknown_execution(exec_id: object) -> KitaruNotFoundError:
    """The one error for an execution id that names no execution, malformed or not.

    A malformed id is reported the same way as an unknown one (SPEC §1.5): to the caller both
    mean "no such execution", and both are fixed by picking an id that exists.
    """
    return KitaruNotFoundError(
        f"No execution with id '{echo(exec_id)}'.",
        hint=EXEC_ID_HINT,
        details={"exec_id": echo(exec_id)},
    )


def parse_exec_id(exec_id: object) -> UUID:
    """An execution id as a UUID; anything that is not one is :func:`unknown_execution`."""
    if isinstance(exec_id, UUID):
        return exec_id
    try:
        return UUID(str(exec_id).strip())
    except ValueError:
        raise unknown_execution(exec_id) from None


def parse_status(
    value: str | ExecutionStatus | None, *, field: str = "status"
) -> ExecutionStatus | None:
    """A public status from user input (case-insensitive); ``None`` or blank means any."""
    if value is None or isinstance(value, ExecutionStatus):
        return value
    text = str(value).strip().lower()
    if not text:
        return None
    try:
        return ExecutionStatus(text)
    except ValueError:
        allowed = ", ".join(status.value for status in ExecutionStatus)
        raise KitaruValidationError(
            f"Unknown status {value!r}; use one of: {allowed}.",
            fields={field: f"must be one of: {allowed}"},
        ) from None


def check_limit(limit: int | None, *, field: str = "limit", maximum: int = MAX_LIMIT) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise KitaruValidationError(
            f"{field} must be a whole number from 1 to {maximum}, got {limit!r}.",
            fields={field: f"must be between 1 and {maximum}"},
        )
    return limit


def encode_cursor(offset: int) -> str:
    """The cursor of the services' lists (executions, flows) at ``offset``."""
    return cursor_format.encode_cursor(offset, kind=cursor_format.SERVICE_LIST)


def decode_cursor(cursor: str | None, *, field: str = "cursor") -> int:
    """The offset in a cursor of the services' lists; anything else is a validation error."""
    return cursor_format.decode_cursor(cursor, kind=cursor_format.SERVICE_LIST, field=field)


def _jsonschema() -> Any:
    """``jsonschema``, imported without ``rfc3987_syntax`` when nothing has imported either.

    jsonschema registers an "iri" format check when that package is installed, and importing it
    compiles dozens of grammars (~0.5 s, most of a CLI answer's time). Answers are validated
    without format checks, so it is left out; the only effect on this process is that a
    jsonschema ``FormatChecker`` does not check the "iri"/"iri-reference" formats.
    """
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        import jsonschema

        return jsonschema
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # makes the import fail
    try:
        import jsonschema
    finally:
        del sys.modules["rfc3987_syntax"]
    return jsonschema


def validate_wait_value(schema: dict[str, Any] | None, value: Any, *, wait: str) -> None:
    """Check an answer against the wait's full JSON schema (nested fields, enums, required).

    A wait without a schema is a continue/abort gate: it takes no value (``None``).
    """
    if schema is None:
        if value is not None:
            raise KitaruWaitValidationError(
                f"Wait '{wait}' is a continue/abort gate and takes no value.",
                fields={"value": "omit it (send null) to continue"},
            )
        return
    validator = _jsonschema().Draft202012Validator(schema)
    problems = sorted(validator.iter_errors(value), key=lambda error: list(error.absolute_path))
    if not problems:
        return
    fields = {
        "value"
        + "".join(
            f"[{part!r}]" if isinstance(part, int) else f".{part}" for part in problem.absolute_path
        ): problem.message
        for problem in problems[:10]
    }
    summary = "; ".join(f"{name}: {message}" for name, message in fields.items())
    raise KitaruWaitValidationError(
        f"The answer does not fit wait '{wait}': {summary}.",
        fields=fields,
        details={"schema": schema},
    )


def parse_overrides(overrides: dict[str, Any] | None) -> dict[str, Any]:
    """``{"checkpoint.<call>": value}`` → ``{"<call>": value}``."""
    parsed: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if (
            not isinstance(key, str)
            or not key.startswith(OVERRIDE_PREFIX)
            or key == OVERRIDE_PREFIX
        ):
            raise KitaruValidationError(
                f"Override key {key!r} must look like 'checkpoint.<name>'.",
                fields={"overrides": f"{key!r} is not 'checkpoint.<name>'"},
            )
        parsed[key[len(OVERRIDE_PREFIX) :]] = value
    return parsed


# Where a replay names a checkpoint call, in each surface's spelling.
_CALL_HINTS = {
    "from_": Hint(
        sdk="Pass from_= one of the valid call ids (or a checkpoint name).",
        cli="Pass --from with one of the valid call ids (or a checkpoint name).",
        mcp="Pass from_checkpoint as one of the valid call ids (or a checkpoint name).",
    ),
    "overrides": Hint(
        sdk="Key overrides as 'checkpoint.<call_id>' with one of the valid call ids.",
        cli="Give --override checkpoint.CALL_ID=VALUE with one of the valid call ids.",
        mcp="Key overrides as 'checkpoint.<call_id>' with one of the valid call ids.",
    ),
}


def _resolve_call(name: str, calls: Sequence[tuple[str, str]], *, field: str) -> str:
    """A call id from a call id or a checkpoint name (its first call)."""
    for call_id, _ in calls:
        if call_id == name:
            return call_id
    for call_id, checkpoint in calls:
        if checkpoint == name:
            return call_id
    valid = ", ".join(call_id for call_id, _ in calls) or "none"
    raise KitaruValidationError(
        f"The execution has no checkpoint call {name!r}. Valid: {valid}.",
        fields={field: f"must be one of: {valid}"},
        hint=_CALL_HINTS.get(field),
        details={"valid": [call_id for call_id, _ in calls]},
    )


def build_replay_plan(
    calls: Sequence[tuple[str, str]],
    *,
    from_: str | None,
    overrides: dict[str, Any],
) -> ReplayPlan:
    """Which recorded calls a replay reuses, which it overrides and which it runs live.

    ``calls`` are ``(call_id, checkpoint_name)`` in the order they ran. Everything before the
    replay point is reused, an overridden call is replaced by its given value (not run), and
    everything else — the replay point and whatever follows it — runs live.
    """
    overridden = [_resolve_call(name, calls, field="overrides") for name in overrides]
    ids = [call_id for call_id, _ in calls]
    if from_ is not None:
        start = ids.index(_resolve_call(from_, calls, field="from_"))
    elif overridden:
        start = min(ids.index(call_id) for call_id in overridden)
    else:
        raise KitaruUsageError(
            "Replay needs a checkpoint to replay from (from_) or at least one override.",
            hint=Hint(
                sdk="Pass from_='<call_id>' or overrides={'checkpoint.<call_id>': value}.",
                cli="Pass --from CALL_ID or --override checkpoint.CALL_ID=VALUE.",
                mcp="Pass from_checkpoint or overrides ({'checkpoint.<call_id>': value}).",
            ),
        )
    reused = ids[:start]
    rerun = [call_id for call_id in ids[start:] if call_id not in overridden]
    return ReplayPlan(
        from_checkpoint=ids[start],
        reused=[call_id for call_id in reused if call_id not in overridden],
        overridden=overridden,
        rerun=rerun,
    )
