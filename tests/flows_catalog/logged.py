"""A flow that records metadata with ``log()`` at flow scope and in checkpoints, calls an LLM
(mocked) and needs a retry — what ``executions get`` and ``flow list`` must show."""

from __future__ import annotations

from flows_exec.common import mark

from kitaru_core import checkpoint, flow, llm, log


@checkpoint
def fetch_rows(salt: str, limit: int) -> list[int]:
    log(source="warehouse", rows=limit, salt=salt)
    return list(range(limit))


@checkpoint(retries=2)
def flaky_sum(workdir: str, rows: list[int]) -> int:
    attempt = mark(workdir, "flaky_sum")
    if attempt == 1:
        raise TimeoutError("the first attempt times out")
    log(attempt=attempt)
    return sum(rows)


@flow
def logged_flow(
    workdir: str, salt: str, limit: int = 3, note: str | None = None, ask: bool = True
) -> int:
    log(phase="start", salt=salt, big="x" * 20_000)
    rows = fetch_rows(salt, limit)
    if ask:
        llm(f"summarise {salt}", model="openai/gpt-4o-mini", name="ask")
    return flaky_sum(workdir, rows)
