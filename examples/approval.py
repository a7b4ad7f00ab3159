"""Human in the loop: draft a post, wait for approval, then publish or discard it.

The flow stops at ``wait()``; the execution is ``waiting`` until someone answers (from the CLI,
an assistant through MCP, or code). The draft is not written again when the flow continues.

    python examples/approval.py            # waits up to 10 s, then stays waiting
    kitaru executions input EXEC_ID approval '{"approved": true, "note": "ship it"}'
"""

from __future__ import annotations

from pydantic import BaseModel

from kitaru_core import checkpoint, flow, wait


class Approval(BaseModel):
    """The answer a reviewer gives."""

    approved: bool
    note: str = ""


@checkpoint
def draft(topic: str) -> str:
    return f"Five things to know about {topic}."


@checkpoint
def publish(text: str, note: str) -> str:
    return f"published: {text}" + (f" ({note})" if note else "")


@checkpoint
def discard(text: str, note: str) -> str:
    return f"discarded: {text}" + (f" ({note})" if note else "")


@flow
def approval_flow(topic: str = "durable agents", timeout: float = 10.0) -> str:
    """Draft, ask for approval, and act on the answer."""
    text = draft(topic)
    answer = wait(
        name="approval",
        schema=Approval,
        question=f"Publish this draft? {text}",
        timeout=timeout,
    )
    if answer.approved:
        return publish(text, answer.note)
    return discard(text, answer.note)


if __name__ == "__main__":
    handle = approval_flow.run()
    print(f"execution {handle.exec_id} is {handle.status.value}")
