"""Flows that wait for input, for the ``wait()`` tests."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from flows.basic import count_call
from kitaru_core import checkpoint, flow, wait


class Review(BaseModel):
    approved: bool
    score: int
    comment: str = ""


NUMBER_SCHEMA = {
    "type": "object",
    "properties": {"n": {"type": "integer"}, "label": {"type": "string"}},
    "required": ["n"],
}
SCHEMAS: dict[str, Any] = {
    "bool": bool,
    "int": int,
    "float": float,
    "str": str,
    "list": list,
    "dict": dict,
    "model": Review,
    "json_schema": NUMBER_SCHEMA,
}


@checkpoint(cache=False)
def prepare(workdir: str, salt: str) -> str:
    count_call(workdir, "prepare")
    return f"draft {salt}"


@checkpoint(cache=False)
def finish(workdir: str, draft: str, answer: Any) -> str:
    count_call(workdir, "finish")
    return f"{draft} -> {answer!r}"


@flow
def typed_wait_flow(kind: str, salt: str, timeout: float = 3) -> Any:
    """Asks one question with the named schema and returns the answer as it came back."""
    return wait(
        name="answer",
        schema=SCHEMAS[kind],
        question=f"Answer with a {kind}",
        timeout=timeout,
        metadata={"salt": salt},
    )


@flow
def gate_flow(salt: str, timeout: float = 3) -> str:
    """A wait with no schema: a continue/abort gate."""
    answer = wait(name="gate", question="Continue?", timeout=timeout, metadata={"salt": salt})
    return f"passed with {answer!r}"


@flow
def resumable_flow(workdir: str, salt: str, timeout: float = 0) -> str:
    """A checkpoint before and after a wait: the first must not run again on resume."""
    draft = prepare(workdir, salt)
    answer = wait(name="approval", schema=bool, question="Approve the draft?", timeout=timeout)
    return finish(workdir, draft, answer)


@flow
def swallowing_flow(salt: str, timeout: float = 0) -> str:
    """User code that catches every ``Exception`` around ``wait()``."""
    try:
        answer = wait(name="approval", schema=bool, timeout=timeout)
    except Exception as exc:
        return f"swallowed {type(exc).__name__}"
    return f"answered {answer!r}"


@checkpoint
def wait_in_checkpoint(salt: str) -> str:
    wait(name="inner", timeout=1)
    return "unreachable"


@flow
def wait_in_checkpoint_flow(salt: str) -> str:
    return wait_in_checkpoint(salt)


@flow
def bad_schema_flow(salt: str) -> Any:
    return wait(name="bad", schema=set, timeout=1)
