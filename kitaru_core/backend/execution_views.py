"""The value-level pieces of Kitaru's views, built from plain values (no ZenML import): a
checkpoint call, its llm usage, the user's metadata, why an execution failed, and log lines.
``backend/store/views.py`` assembles them from either adapter's rows, so both give the same
answers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kitaru_core.backend.status import to_public
from kitaru_core.models import ArtifactRef, CheckpointCall, Failure, LlmUsage, LogEntry
from kitaru_core.naming import user_text


def checkpoint_call(
    invocation_id: str,
    *,
    extra: Mapping[str, Any],
    status: str,
    attempts: int | None,
    started_at: datetime | None,
    ended_at: datetime | None,
    outputs: list[ArtifactRef],
    metadata: Mapping[str, Any] | None = None,
) -> CheckpointCall:
    """One checkpoint call (its latest attempt); ``extra`` is the step's configured extra and
    ``metadata`` its run metadata (where an ``llm_call`` keeps its usage)."""
    kind = str(extra.get("kitaru_type", "checkpoint"))
    return CheckpointCall(
        call_id=invocation_id,
        name=str(extra.get("kitaru_name", invocation_id)),
        type=kind,
        status=to_public(status),
        attempts=int(attempts or 1),
        started_at=started_at,
        ended_at=ended_at,
        cached=str(status) in ("cached", "skipped"),
        outputs=outputs,
        llm_usage=llm_usage(metadata) if kind == "llm_call" else None,
        metadata=user_metadata(metadata, llm_call=kind == "llm_call"),
    )


# Keys ``llm()`` logs on its ``llm_call`` checkpoint (``runtime/llm.py``: ``complete`` and
# ``usage_of``); shown as ``llm_usage`` instead, not as user metadata.
LLM_USAGE_KEYS = frozenset(
    {
        "model",
        "model_alias",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "cost_usd",
        "finish_reason",
        "mocked",
    }
)
# Kitaru's own bookkeeping (result record, execution spec, saved artifact ids, …) uses this.
INTERNAL_PREFIX = "kitaru_"


def user_metadata(metadata: Mapping[str, Any] | None, *, llm_call: bool = False) -> dict[str, Any]:
    """What the user recorded with ``log(**metadata)``: Kitaru's own keys are left out, and on
    an ``llm_call`` checkpoint the usage keys (already shown as ``llm_usage``)."""
    return {
        str(key): value
        for key, value in (metadata or {}).items()
        if not str(key).startswith(INTERNAL_PREFIX) and not (llm_call and key in LLM_USAGE_KEYS)
    }


def llm_usage(metadata: Mapping[str, Any] | None) -> LlmUsage | None:
    """An ``llm_call``'s usage from the metadata ``llm()`` logged (``None`` before it did)."""
    if not metadata or "model" not in metadata:
        return None

    def number(key: str, kind: type[int] | type[float]) -> Any:
        value = metadata.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return kind(value)
        return None

    return LlmUsage(
        model=str(metadata["model"]),
        model_alias=str(metadata["model_alias"]) if metadata.get("model_alias") else None,
        prompt_tokens=number("prompt_tokens", int),
        completion_tokens=number("completion_tokens", int),
        total_tokens=number("total_tokens", int),
        cost_usd=number("cost_usd", float),
        mocked=metadata.get("mocked") is True,
    )


def user_traceback(text: str) -> str:
    """The traceback from the user's code on: ZenML's and Kitaru's own frames are dropped."""
    lines = text.splitlines()
    keep: list[str] = [lines[0]] if lines else []
    skipping = False
    for line in lines[1:]:
        if line.startswith("  File "):
            skipping = "/zenml/" in line or "/kitaru_core/" in line
        elif not line.startswith(" "):
            # Not part of a frame: the exception line, or "During handling of ...".
            skipping = False
        if not skipping:
            keep.append(line)
    return user_text("\n".join(keep))


def _exception_type(info: Mapping[str, Any]) -> str | None:
    source = info.get("source")
    return str(source).rsplit(".", 1)[-1] if source else None


def checkpoint_failure(
    invocation_id: str,
    info: Mapping[str, Any] | None,
    run_info: Mapping[str, Any] | None = None,
) -> Failure:
    """A failed checkpoint call; ``info`` is its exception info (message, source, traceback).

    A checkpoint that failed outside its body (storing its output on a full disk, say) has
    none: the run's exception info ``run_info`` then says why.
    """
    if not (info and (info.get("message") or info.get("traceback"))):
        info = run_info
    info = info or {}
    traceback = info.get("traceback")
    return Failure(
        checkpoint=invocation_id,
        exception_type=_exception_type(info),
        message=user_text(info.get("message") or "checkpoint failed"),
        traceback=user_traceback(traceback) if traceback else None,
    )


def flow_failure(info: Mapping[str, Any] | None, reason: str | None) -> Failure:
    """A failed execution without a failed checkpoint: the flow body raised, or the run
    stopped for ``reason`` (already user text)."""
    if info and (info.get("message") or info.get("traceback")):
        # The flow body itself raised (not a checkpoint): ZenML keeps it on the run.
        traceback = info.get("traceback")
        return Failure(
            exception_type=_exception_type(info),
            message=user_text(info.get("message") or reason or "the flow failed"),
            traceback=user_traceback(traceback) if traceback else None,
        )
    return Failure(message=reason or "the flow failed")


def log_entries(exec_id: str) -> list[LogEntry]:
    """The execution's log lines, oldest first (kept by Kitaru on local stacks)."""
    from datetime import UTC

    from kitaru_core.execution_logs import read

    entries = []
    for record in read(exec_id):
        stamp = record.get("timestamp")
        entries.append(
            LogEntry(
                timestamp=datetime.fromtimestamp(stamp, UTC) if stamp else None,
                level=str(record.get("level", "INFO")),
                checkpoint=record.get("checkpoint"),
                message=user_text(str(record.get("message", ""))),
            )
        )
    return entries
