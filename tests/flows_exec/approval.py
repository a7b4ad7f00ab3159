"""Human-in-the-loop flows: a draft, a wait for a structured approval, then a final step."""

from __future__ import annotations

from typing import Any

from flows_exec.common import mark
from kitaru_core import checkpoint, flow, wait

APPROVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "decision": {"type": "string", "enum": ["approve", "reject"]},
        "reviewer": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "level": {"type": "integer"}},
            "required": ["name"],
        },
        "notes": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["decision", "reviewer"],
}


@checkpoint
def write_draft(workdir: str, salt: str) -> str:
    mark(workdir, "write_draft")
    return f"draft {salt}"


@checkpoint
def finalize(workdir: str, draft: str, decision: str) -> str:
    mark(workdir, "finalize", decision)
    return f"{draft}: {decision}"


@flow
def signoff_flow(workdir: str, salt: str, timeout: float = 60.0) -> str:
    """Writes a draft, waits for a reviewer's structured answer, acts on it."""
    draft = write_draft(workdir, salt)
    answer = wait(
        name="approval",
        schema=APPROVAL_SCHEMA,
        question=f"Publish '{draft}'?",
        timeout=timeout,
        metadata={"salt": salt, "draft": draft},
    )
    return finalize(workdir, draft, answer["decision"])


@flow
def go_gate_flow(workdir: str, salt: str, timeout: float = 60.0) -> str:
    """A continue/abort gate (no schema) between two checkpoints."""
    draft = write_draft(workdir, salt)
    wait(name="go", question="Go ahead?", timeout=timeout, metadata={"salt": salt})
    return finalize(workdir, draft, "go")
