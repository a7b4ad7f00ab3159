"""Flows for the execution commands: one that asks a question, one that fails until fixed."""

from __future__ import annotations

from pathlib import Path

from kitaru_core import checkpoint, flow, wait

DECISION_SCHEMA = {
    "type": "object",
    "properties": {"decision": {"type": "string", "enum": ["approve", "reject"]}},
    "required": ["decision"],
}


@checkpoint
def draft(salt: str) -> str:
    return f"draft {salt}"


@checkpoint
def publish(text: str, decision: str) -> str:
    return f"{text}: {decision}"


@flow
def review_flow(salt: str, timeout: float = 0.0) -> str:
    """Drafts, asks a reviewer for a structured decision, publishes."""
    text = draft(salt)
    answer = wait(
        name="review",
        schema=DECISION_SCHEMA,
        question=f"Publish '{text}'?",
        timeout=timeout,
        metadata={"salt": salt},
    )
    return publish(text, answer["decision"])


@checkpoint
def prepare(salt: str) -> str:
    return f"prepared {salt}"


@checkpoint
def fragile(workdir: str, data: str) -> str:
    """Fails until ``<workdir>/fixed`` exists (the user "fixed the cause")."""
    if not (Path(workdir) / "fixed").exists():
        raise ConnectionError(f"upstream unavailable for {data!r}")
    return f"processed {data}"


@flow
def fragile_flow(workdir: str, salt: str) -> str:
    return fragile(workdir, prepare(salt))


@flow
def approve_flow(salt: str) -> str:
    """The seed's yes/no question (`kitaru executions input ID --value true`)."""
    text = draft(salt)
    approved = wait(
        name="approve",
        schema=bool,
        question=f"Approve '{text}'?",
        timeout=0,
        metadata={"salt": salt},
    )
    return publish(text, "approved" if approved else "rejected")
