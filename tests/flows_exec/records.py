"""Flows whose records the read operations inspect: logs, attempts, cache hits, failures,
saved values and results of every kind."""

from __future__ import annotations

import logging

from pydantic import BaseModel

from flows_exec.common import mark
from kitaru_core import checkpoint, flow, save

logger = logging.getLogger("flows_exec.records")
# INFO records are kept whatever level the root logger has in the process running the flow.
logger.setLevel(logging.INFO)


class Summary(BaseModel):
    title: str
    score: float
    tags: list[str]


@checkpoint
def load_rows(salt: str) -> list[int]:
    print(f"loading rows for {salt}")
    logger.info("loaded 3 rows for %s", salt)
    return [1, 2, 3]


@checkpoint(retries=2)
def shaky_total(workdir: str, rows: list[int]) -> int:
    attempt = mark(workdir, "shaky_total")
    print(f"attempt {attempt}")
    if attempt == 1:
        raise TimeoutError("the first attempt times out")
    return sum(rows)


@flow
def observed_flow(workdir: str, salt: str) -> dict[str, object]:
    """Prints and logs at flow scope and in checkpoints; one checkpoint needs a retry."""
    print(f"flow body starts {salt}")
    logger.warning("flow scope warning %s", salt)
    rows = load_rows(salt)
    total = shaky_total(workdir, rows)
    print(f"flow body ends with {total}")
    return {"salt": salt, "total": total}


@checkpoint
def summarize_rows(salt: str) -> Summary:
    save("raw_rows", {"salt": salt, "rows": [1, 2, 3]})
    return Summary(title=f"rows {salt}", score=0.5, tags=["a", "b"])


@flow
def model_flow(salt: str) -> Summary:
    """Returns a pydantic model (stored as a result artifact) and saves two named values."""
    summary = summarize_rows(salt)
    save("note", f"note for {salt}")
    return summary


@checkpoint
def big_text(salt: str, size: int) -> str:
    return (salt + "-") * (size // (len(salt) + 1) + 1)


@flow
def big_output_flow(salt: str, size: int = 50_000) -> int:
    """A checkpoint with a big output; the result itself stays small."""
    return len(big_text(salt, size))


@flow
def big_result_flow(salt: str, size: int = 40_000) -> str:
    """Returns a value too large to show in full."""
    return big_text(salt, size)


class QuotaExceededError(RuntimeError):
    """The failure the failing flow raises."""


@checkpoint
def first_ok(salt: str) -> str:
    return f"ok {salt}"


@checkpoint
def over_quota(data: str) -> str:
    raise QuotaExceededError(f"quota exceeded while handling {data}")


@flow
def quota_flow(salt: str) -> str:
    data = first_ok(salt)
    return over_quota(data)


@flow
def body_failure_flow(salt: str) -> str:
    """Fails in the flow body itself, not in a checkpoint."""
    data = first_ok(salt)
    raise LookupError(f"no route for {data}")


@checkpoint
def echo(value: str) -> str:
    return value


@flow
def echo_flow(value: str) -> str:
    """A one-checkpoint flow for the list tests."""
    return echo(value)


@flow
def body_model_flow(salt: str) -> Summary:
    """Returns a pydantic model built in the flow body (no checkpoint produced it)."""
    rows = load_rows(salt)
    return Summary(title=f"body {salt}", score=float(sum(rows)), tags=[salt])
