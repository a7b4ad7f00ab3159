"""Flows for the execution and artifact tool tests.

Every flow takes a ``salt`` (unique per test) so that tests never share a cache entry, and the
flows whose checkpoints must prove how often they really ran take a ``workdir`` for marker files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kitaru_core import checkpoint, flow, save, wait

APPROVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "decision": {"type": "string", "enum": ["approve", "reject"]},
        "reviewer": {"type": "string"},
    },
    "required": ["decision"],
}


def mark(workdir: str, name: str) -> int:
    """Append a line to ``<workdir>/<name>.marks``; return how many there are now."""
    path = Path(workdir) / f"{name}.marks"
    with path.open("a", encoding="utf-8") as stream:
        stream.write("ran\n")
    return len(path.read_text(encoding="utf-8").splitlines())


def marks(workdir: str, name: str) -> int:
    path = Path(workdir) / f"{name}.marks"
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


@checkpoint
def compose(name: str, salt: str) -> str:
    print(f"composing a greeting for {name}")
    return f"hello {name}"


@checkpoint
def polish(text: str) -> str:
    print(f"polishing '{text}'")
    save("draft", {"text": text})
    return text.upper()


@flow
def greet_flow(name: str, salt: str) -> str:
    """Two checkpoints that print, a saved value and a string result."""
    print(f"greeting starts {salt}")
    return polish(compose(name, salt))


@checkpoint
def fetch(workdir: str, topic: str) -> str:
    mark(workdir, "fetch")
    return f"facts about {topic}"


@checkpoint
def analyze(workdir: str, facts: str) -> str:
    mark(workdir, "analyze")
    return f"analysis of {facts}"


@checkpoint
def publish(workdir: str, analysis: str) -> str:
    mark(workdir, "publish")
    return f"published: {analysis}"


@flow
def report_flow(workdir: str, topic: str) -> str:
    """fetch → analyze → publish, for replays."""
    return publish(workdir, analyze(workdir, fetch(workdir, topic)))


@checkpoint
def gather(workdir: str, salt: str) -> str:
    mark(workdir, "gather")
    return f"gathered {salt}"


@checkpoint
def fragile(workdir: str, data: str) -> str:
    """Fails until ``<workdir>/fixed`` exists (the user fixed the cause)."""
    mark(workdir, "fragile")
    if not (Path(workdir) / "fixed").exists():
        raise ConnectionError(f"upstream unavailable for {data}")
    return f"processed {data}"


@flow
def fragile_flow(workdir: str, salt: str) -> str:
    return fragile(workdir, gather(workdir, salt))


@checkpoint
def draft(salt: str) -> str:
    return f"draft {salt}"


@checkpoint
def finalize(text: str, decision: str) -> str:
    return f"{text}: {decision}"


@flow
def approval_flow(salt: str, timeout: float = 60) -> str:
    """Asks for a structured decision between two checkpoints."""
    text = draft(salt)
    answer = wait(
        name="approval",
        schema=APPROVAL_SCHEMA,
        question=f"Publish '{text}'?",
        timeout=timeout,
        metadata={"salt": salt},
    )
    return finalize(text, answer["decision"])


@flow
def gate_flow(salt: str, timeout: float = 60) -> str:
    """A continue/abort gate (no schema)."""
    text = draft(salt)
    wait(name="go", question="Go ahead?", timeout=timeout, metadata={"salt": salt})
    return finalize(text, "go")


@checkpoint
def tick(index: int, delay: float, salt: str) -> int:
    import time

    time.sleep(delay)
    return index


@flow
def slow_flow(salt: str, steps: int = 20, delay: float = 1.0) -> int:
    """Many slow checkpoints: still running when a test looks at it."""
    done = 0
    for index in range(steps):
        done += tick(index, delay, salt)
    return done


@checkpoint
def big_text(salt: str, size: int) -> str:
    return (salt + "-") * (size // (len(salt) + 1) + 1)


@flow
def big_flow(salt: str, size: int = 100_000) -> int:
    """A checkpoint with an output too big for one tool result."""
    return len(big_text(salt, size))


NOT_A_FLOW = "a plain string"


def plain_function(salt: str) -> str:
    return salt
