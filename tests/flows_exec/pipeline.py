"""A four-checkpoint flow for replay and retry: fetch → analyze → summarize → publish.

Each checkpoint appends to a marker file, so a test can tell which bodies really ran.
"""

from __future__ import annotations

from pathlib import Path

from flows_exec.common import mark
from kitaru_core import checkpoint, flow


@checkpoint
def fetch(workdir: str, topic: str) -> str:
    mark(workdir, "fetch")
    return f"facts about {topic}"


@checkpoint
def analyze(workdir: str, facts: str) -> dict[str, object]:
    mark(workdir, "analyze")
    return {"facts": facts, "words": len(facts.split())}


@checkpoint
def summarize(workdir: str, analysis: dict[str, object]) -> str:
    mark(workdir, "summarize")
    return f"{analysis['facts']} ({analysis['words']} words)"


@checkpoint
def publish(workdir: str, summary: str) -> str:
    mark(workdir, "publish", summary)
    return f"published: {summary}"


@flow
def research_report_flow(workdir: str, topic: str) -> str:
    facts = fetch(workdir, topic)
    analysis = analyze(workdir, facts)
    summary = summarize(workdir, analysis)
    return publish(workdir, summary)


@checkpoint
def gather(workdir: str, salt: str) -> str:
    mark(workdir, "gather")
    return f"gathered {salt}"


@checkpoint
def fragile(workdir: str, data: str) -> str:
    """Fails until the file ``<workdir>/fixed`` exists (the user "fixed the cause")."""
    mark(workdir, "fragile")
    if not (Path(workdir) / "fixed").exists():
        raise ConnectionError(f"upstream unavailable while processing {data!r}")
    return f"processed {data}"


@flow
def fragile_upload_flow(workdir: str, salt: str) -> str:
    data = gather(workdir, salt)
    return fragile(workdir, data)
