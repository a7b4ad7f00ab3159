"""Flows for the runtime tests: values, futures, call ids, retries, caching, failures, log/save.

Every flow takes a ``salt`` (or a per-test folder) so that runs of different tests never share
a cache entry. Checkpoints that must prove they ran (or did not) append a line to a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from kitaru_core import checkpoint, flow, log, save


class Point(BaseModel):
    x: int
    y: int


def sample(kind: str) -> Any:
    """One plain value of each type a checkpoint or a flow may return."""
    return {
        "str": "hello",
        "int": 42,
        "float": 2.5,
        "dict": {"a": 1, "nested": {"b": [1, 2]}},
        "list": [1, "two", 3.0],
        "model": Point(x=1, y=2),
        "none": None,
    }[kind]


def count_call(workdir: str, name: str) -> int:
    """Record one real execution of a checkpoint; returns how many there were so far."""
    path = Path(workdir) / f"{name}.calls"
    with path.open("a") as file:
        file.write("x\n")
    return len(path.read_text().splitlines())


def calls(workdir: str, name: str) -> int:
    path = Path(workdir) / f"{name}.calls"
    return len(path.read_text().splitlines()) if path.exists() else 0


@checkpoint
def make_value(kind: str, salt: str) -> Any:
    return sample(kind)


@flow
def value_flow(kind: str, salt: str) -> Any:
    """Returns a checkpoint's output as the flow's result."""
    return make_value(kind, salt)


@flow
def body_value_flow(kind: str, salt: str) -> Any:
    """Returns a value built in the flow body (no checkpoint produced it)."""
    return sample(kind)


@checkpoint
def count_words(text: str) -> int:
    return len(text.split())


@checkpoint
def shout(text: str) -> str:
    return text.upper()


@flow
def branching_flow(text: str) -> dict[str, Any]:
    """Uses checkpoint outputs as real values: arithmetic, ``if``, ``for`` and ``try``."""
    words = count_words(text)
    loud = shout(text)
    seen = [type(words).__name__, type(loud).__name__]
    kind = "long" if words > 3 else "short"
    letters = sum(1 for char in loud if char.isupper())
    try:
        ratio = letters / (words - words)
    except ZeroDivisionError:
        ratio = -1.0
    return {"types": seen, "kind": kind, "letters": letters, "ratio": ratio, "loud": loud}


@checkpoint
def square(n: int, salt: str) -> int:
    return n * n


@flow
def submit_flow(n: int, salt: str) -> dict[str, Any]:
    """Starts ``n`` checkpoints concurrently and adds their results."""
    futures = [square.submit(i, salt) for i in range(n)]
    values = [future.result() for future in futures]
    return {"values": values, "total": sum(values)}


@checkpoint
def fetch_data(url: str) -> str:
    return f"data from {url}"


@flow
def call_ids_flow(salt: str) -> list[str]:
    """Three calls of one checkpoint: two automatic ids and one pinned id."""
    first = fetch_data(f"https://a.example/{salt}")
    second = fetch_data(f"https://b.example/{salt}")
    pinned = fetch_data(f"https://c.example/{salt}", id="fetch")
    return [first, second, pinned]


@checkpoint(retries=2)
def flaky_step(workdir: str) -> str:
    attempt = count_call(workdir, "flaky_step")
    if attempt == 1:
        raise RuntimeError("first attempt fails")
    return f"succeeded on attempt {attempt}"


@flow
def retry_flow(workdir: str) -> str:
    """A checkpoint with its own ``retries=2`` that fails once."""
    return flaky_step(workdir)


@checkpoint
def flaky_plain_step(workdir: str) -> str:
    attempt = count_call(workdir, "flaky_plain_step")
    if attempt < 3:
        raise RuntimeError(f"attempt {attempt} fails")
    return f"succeeded on attempt {attempt}"


@flow(retries=2)
def flow_retries_flow(workdir: str) -> str:
    """The flow's ``retries=2`` is the default of its checkpoints (this one fails twice)."""
    return flaky_plain_step(workdir)


@flow
def no_retries_flow(workdir: str) -> str:
    """The same checkpoint with no retries anywhere: the first failure fails the flow."""
    return flaky_plain_step(workdir)


@checkpoint
def counted_step(workdir: str, salt: str) -> str:
    count_call(workdir, "counted_step")
    return f"computed {salt}"


@flow
def cache_flow(workdir: str, salt: str) -> str:
    return counted_step(workdir, salt)


class BrokenDataError(ValueError):
    """The exception the failing flow raises."""


@checkpoint
def ok_step(salt: str) -> str:
    return f"ok {salt}"


@checkpoint
def explode(salt: str) -> str:
    raise BrokenDataError(f"boom {salt}")


@flow
def failing_flow(salt: str) -> str:
    ok_step(salt)
    return explode(salt)


@flow(retries=1, cache=False)
def configured_flow(salt: str) -> str:
    """Sets cache and retries at the ``@flow`` layer (for the precedence tests)."""
    return ok_step(salt)


@flow
def plain_flow(salt: str) -> str:
    return ok_step(salt)


@checkpoint
def logged_step(salt: str) -> int:
    log(tokens=42, model="mock", salt=salt)
    return 7


@flow
def logging_flow(salt: str) -> int:
    log(stage="start", salt=salt)
    return logged_step(salt)


@checkpoint
def produce_report(salt: str) -> str:
    save("report", {"salt": salt, "rows": [1, 2, 3]})
    return f"report {salt}"


@flow
def saving_flow(salt: str) -> str:
    text = produce_report(salt)
    save("summary", Point(x=3, y=4))
    return text


@flow
def body_failing_flow(salt: str) -> str:
    """Fails in the flow body itself, after a checkpoint succeeded."""
    text = ok_step(salt)
    if text.startswith("ok"):
        raise BrokenDataError(f"body says no to {salt}")
    return text


@flow
def schema_param_flow(schema: str, salt: str) -> str:
    """A parameter name that shadows a pydantic ``BaseModel`` attribute."""
    return f"{schema} {salt}"
