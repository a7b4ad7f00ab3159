"""The seed's producer flow (``kitaru deploy flows/research.py:research_agent``), made tiny."""

from __future__ import annotations

from kitaru_core import checkpoint, flow


@checkpoint
def gather(topic: str) -> str:
    print(f"gathering notes on {topic}")
    return f"notes on {topic}"


@checkpoint
def summarize(notes: str) -> str:
    return f"summary of {notes}"


@flow
def research_agent(topic: str) -> str:
    notes = gather(topic)
    return summarize(notes)
