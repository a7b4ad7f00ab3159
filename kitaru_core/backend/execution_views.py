"""Kitaru's views of what ZenML stores, built from plain values (no ZenML import), so that the
ZenML path (``runs.py``) and the fast local read path (``local_store.py``) give the same
answers: checkpoint calls, and why an execution failed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kitaru_core.backend.status import to_public
from kitaru_core.models import ArtifactRef, CheckpointCall, Failure, LogEntry
from kitaru_core.runtime.naming import user_text


def checkpoint_call(
    invocation_id: str,
    *,
    extra: Mapping[str, Any],
    status: str,
    attempts: int | None,
    started_at: datetime | None,
    ended_at: datetime | None,
    outputs: list[ArtifactRef],
) -> CheckpointCall:
    """One checkpoint call (its latest attempt); ``extra`` is the step's configured extra."""
    return CheckpointCall(
        call_id=invocation_id,
        name=str(extra.get("kitaru_name", invocation_id)),
        type=str(extra.get("kitaru_type", "checkpoint")),
        status=to_public(status),
        attempts=int(attempts or 1),
        started_at=started_at,
        ended_at=ended_at,
        cached=str(status) in ("cached", "skipped"),
        outputs=outputs,
    )


def user_traceback(text: str) -> str:
    """The traceback from the user's code on: ZenML's and Kitaru's own frames are dropped."""
    lines = text.splitlines()
    keep: list[str] = [lines[0]] if lines else []
    skipping = False
    for line in lines[1:]:
        if line.startswith("  File "):
            skipping = "/zenml/" in line or "/kitaru_core/runtime/" in line
        elif not line.startswith(" "):
            # Not part of a frame: the exception line, or "During handling of ...".
            skipping = False
        if not skipping:
            keep.append(line)
    return user_text("\n".join(keep))


def _exception_type(info: Mapping[str, Any]) -> str | None:
    source = info.get("source")
    return str(source).rsplit(".", 1)[-1] if source else None


def checkpoint_failure(invocation_id: str, info: Mapping[str, Any] | None) -> Failure:
    """A failed checkpoint call; ``info`` is its exception info (message, source, traceback)."""
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

    from kitaru_core.runtime.logcapture import read

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
