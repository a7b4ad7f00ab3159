"""Flows that populate the store the TypeScript client reads (tests/test_mcp_ts_client.py).

Their names are unique to this check, so the versions, tags and listings it sees are its own.
Every flow takes a ``salt`` so that no two executions share a cache entry.
"""

from __future__ import annotations

from typing import Any

from kitaru_core import checkpoint, flow, llm, log, save, wait

DECISION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"decision": {"type": "string", "enum": ["approve", "reject"]}},
    "required": ["decision"],
}


@checkpoint
def ts_outline(topic: str, salt: str) -> list[str]:
    print(f"outlining {topic}")
    return [f"{topic} intro", f"{topic} details"]


@checkpoint
def ts_write(sections: list[str]) -> dict[str, Any]:
    save("ts_draft", {"sections": sections})  # a named artifact besides the outputs
    log(sections=len(sections))
    return {"sections": sections, "words": 2 * len(sections)}


@flow
def ts_report(topic: str, salt: str) -> dict[str, Any]:
    """Completes: two checkpoints, a saved artifact, metadata, a dict result."""
    return ts_write(ts_outline(topic, salt))


@checkpoint
def ts_unreliable(salt: str) -> str:
    raise ConnectionError(f"upstream unavailable ({salt})")


@flow
def ts_broken(salt: str) -> str:
    """Fails in its only checkpoint (and again on every retry)."""
    return ts_unreliable(salt)


@checkpoint
def ts_prepare(salt: str) -> str:
    return f"draft {salt}"


@flow
def ts_review(salt: str, timeout: float = 0) -> str:
    """Waits for a structured decision; ``timeout=0`` releases the worker at once."""
    text = ts_prepare(salt)
    answer = wait(
        name="review",
        schema=DECISION_SCHEMA,
        question=f"Publish '{text}'?",
        timeout=timeout,
        metadata={"salt": salt},
    )
    return f"{text}: {answer['decision']}"


@flow
def ts_ask(salt: str) -> str:
    """One ``llm()`` call (answered by ``KITARU_LLM_MOCK_RESPONSE``)."""
    return llm(f"Summarise {salt}", model="openai/gpt-4o-mini", name="ts_summary")


@flow
def ts_deployed_agent(topic: str, salt: str = "") -> str:
    """Deployed locally (``allow_local``) and invoked by the client."""
    return ts_prepare(f"{topic} {salt}")
