"""Run a recorded execution again: retry a failed one, or replay one from a checkpoint."""

from __future__ import annotations

from typing import Any

from kitaru_core.backend.run_writes import store_options
from kitaru_core.backend.runs import get_run
from kitaru_core.backend.source_root import prepare_source_root
from kitaru_core.backend.stack_lookup import temporary_stack
from kitaru_core.backend.zenml_compat.pipeline import load_dynamic_pipeline
from kitaru_core.errors import KitaruStateError
from kitaru_core.hints import Hint
from kitaru_core.naming import ANSWERS_KEY, LOCAL_LOGS_KEY, ORIGINAL_KEY, OVERRIDES_KEY

# On a replay's run: the overridden calls in the order the replay was planned in, each with
# the call before it, so that the calls of the run can be listed in order again. An overridden
# call is not a step (it never ran), so nothing else records where it was.
OVERRIDDEN_CALLS_KEY = "kitaru_overridden_calls"
# On a retried execution's run: the exec_id of the execution that retries it.
RETRIED_KEY = "kitaru_retried_as"


def recorded_calls(exec_id: str) -> list[tuple[str, str]]:
    """``(call_id, checkpoint_name)`` of an execution's calls, in the order they started.

    The calls a replay overrode are listed where they were, so that a replay of that replay
    can reuse (or override, or replay from) them like any other call.
    """
    return _calls_of(get_run(exec_id))


def _calls_of(run: Any) -> list[tuple[str, str]]:
    steps = sorted(
        (run.steps or {}).items(),
        key=lambda item: (item[1].start_time is None, item[1].start_time or 0, item[0]),
    )
    calls = [
        (call_id, str((step.config.extra or {}).get("kitaru_name", step.name)))
        for call_id, step in steps
    ]
    return _with_overridden(calls, _overridden_entries(run))


def _overridden_entries(run: Any) -> list[dict[str, Any]]:
    extra = run.config.extra or {}
    values = extra.get(OVERRIDES_KEY) or {}
    entries = [
        entry
        for entry in extra.get(OVERRIDDEN_CALLS_KEY) or []
        if isinstance(entry, dict) and entry.get("call_id") in values
    ]
    # A run started before the order was recorded: its overrides, at the end.
    listed = {entry["call_id"] for entry in entries}
    entries += [
        {"call_id": call_id, "name": call_id, "after": None, "position": None}
        for call_id in values
        if call_id not in listed
    ]
    return entries


def _with_overridden(
    calls: list[tuple[str, str]], entries: list[dict[str, Any]]
) -> list[tuple[str, str]]:
    """Insert the overridden calls after the call that preceded them when the replay was
    planned, or at their planned position when that call did not happen in this run."""
    merged = list(calls)
    for entry in entries:
        ids = [call_id for call_id, _ in merged]
        if entry["call_id"] in ids:
            continue
        after, position = entry.get("after"), entry.get("position")
        if after in ids:
            index = ids.index(after) + 1
        elif after is None and position is not None:
            index = 0
        else:
            index = len(merged) if position is None else min(int(position), len(merged))
        merged.insert(index, (str(entry["call_id"]), str(entry.get("name") or entry["call_id"])))
    return merged


def recorded_overrides(run: Any) -> dict[str, Any]:
    """The values a replay run used in place of its overridden calls, by call id."""
    return dict((run.config.extra or {}).get(OVERRIDES_KEY) or {})


def successful_calls(exec_id: str) -> list[str]:
    """The calls a retry reuses: completed checkpoints, and the calls a replay overrode (their
    values are carried over by :func:`run_again`)."""
    run = get_run(exec_id)
    done = [call for call, step in (run.steps or {}).items() if step.status.is_successful]
    return done + list(recorded_overrides(run))


def _pipeline_for(run: Any) -> Any:
    prepare_source_root(run)
    spec = run.snapshot.pipeline_spec if run.snapshot else None
    if spec is None or spec.source is None:
        raise KitaruStateError(
            f"Execution {run.id} has no recorded flow source, so it cannot be run again.",
            hint=Hint(
                sdk="Start the flow anew with `my_flow.run(...)`.",
                cli="Start the flow anew with `kitaru run TARGET`.",
                mcp="{tool:kitaru_executions_run|start the flow anew}.",
            ),
        )
    return load_dynamic_pipeline(spec.source)


def answers_before(run: Any, call_id: str | None) -> dict[str, Any]:
    """The original's answered waits that were asked before ``call_id`` started (all if None).

    A replay reuses the human answers given before its replay point, so it does not stop to
    ask them again; waits after the replay point are asked anew.
    """
    from kitaru_core.backend.waits import list_conditions

    step = _first_step_from(run, call_id) if call_id else None
    cutoff = step.start_time if step is not None else None
    answers: dict[str, Any] = {}
    for condition in list_conditions(str(run.id), pending=False):
        if condition.resolution is None or condition.resolution.value != "continue":
            continue
        if cutoff is not None and condition.created and condition.created >= cutoff:
            continue
        answers[condition.name] = condition.result
    return answers


def _first_step_from(run: Any, call_id: str) -> Any:
    """The step of ``call_id``, or of the first call after it that ran (an overridden call
    has no step, and no time of its own)."""
    steps = run.steps or {}
    ids = [call for call, _ in _calls_of(run)]
    for call in ids[ids.index(call_id) :] if call_id in ids else [call_id]:
        if call in steps:
            return steps[call]
    return None


def _carry_overrides(
    original: Any, skip: list[str], overrides: dict[str, Any]
) -> tuple[list[str], dict[str, Any]]:
    """Split the calls to reuse into real steps and calls the original overrode.

    An overridden call before the replay point is reused with the value it was given, so a
    replay of a replay (or a retry of one) stays faithful to the first replay's overrides.
    """
    given = recorded_overrides(original)
    carried = {call: given[call] for call in skip if call in given}
    return [call for call in skip if call not in given], {**carried, **overrides}


def _order_of(calls: list[tuple[str, str]], overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """Where each overridden call sits among the calls the replay was planned from."""
    entries: list[dict[str, Any]] = []
    for position, (call_id, name) in enumerate(calls):
        if call_id in overrides:
            after = calls[position - 1][0] if position else None
            entries.append({"call_id": call_id, "name": name, "after": after, "position": position})
    listed = {entry["call_id"] for entry in entries}
    entries += [
        {"call_id": call, "name": call, "after": None, "position": None}
        for call in overrides
        if call not in listed
    ]
    return entries


def run_again(
    exec_id: str,
    *,
    skip: list[str],
    overrides: dict[str, Any],
    flow_inputs: dict[str, Any],
    live: bool,
    replay_from: str | None = None,
) -> str:
    """Start a new run of ``exec_id``'s flow that reuses the outputs of the ``skip`` calls.

    ``live`` disables the cache so that every call that is not reused really runs.
    Returns the new exec_id (the run is executed here, in this process).
    """
    original = get_run(exec_id)
    pipeline = _pipeline_for(original)
    skip, overrides = _carry_overrides(original, skip, overrides)
    extra = dict(original.config.extra or {})
    extra[ORIGINAL_KEY] = exec_id
    extra[OVERRIDES_KEY] = overrides
    extra[OVERRIDDEN_CALLS_KEY] = _order_of(_calls_of(original), overrides)
    extra[ANSWERS_KEY] = answers_before(original, replay_from)
    options: dict[str, Any] = {"extra": extra, **store_options(bool(extra.get(LOCAL_LOGS_KEY)))}
    if live:
        options["enable_cache"] = False
    pipeline = pipeline.with_options(**options)
    # ZenML only carries over parameters that have no default; pass them all explicitly so a
    # replay runs with the original inputs unless the caller changes them.
    inputs = {**(original.config.parameters or {}), **flow_inputs}
    with temporary_stack(str(original.stack.id)):
        new_run = pipeline.replay(
            pipeline_run=original.id, skip=skip or None, input_overrides=inputs or None
        )
    return str(new_run.id)


def mark_retried(exec_id: str, new_exec_id: str) -> None:
    """Link a retried execution to its retry (``ExecutionStore.mark_retried`` writes this)."""
    from zenml import log_metadata

    log_metadata(metadata={RETRIED_KEY: new_exec_id}, run_id_name_or_prefix=exec_id)
