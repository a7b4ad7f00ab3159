"""A small "research agent": plan the work, gather sources concurrently, summarise.

Each step is a checkpoint, so its result is stored: a resumed or replayed execution does not
run a finished step again. Deterministic and offline, so it works anywhere.

    python examples/basic_agent.py "durable execution"
"""

from __future__ import annotations

import sys

from kitaru_core import checkpoint, flow, log


@checkpoint
def plan(topic: str) -> list[str]:
    """Decide which sources to read."""
    return [f"{topic} overview", f"{topic} history", f"{topic} open problems"]


@checkpoint(retries=1)
def gather(query: str) -> dict:
    """Pretend to search: a fixed, offline answer per query."""
    words = query.split()
    return {"query": query, "snippet": f"{len(words)} words about {words[-1]}"}


@checkpoint(type="llm_call")
def summarise(topic: str, sources: list[dict]) -> str:
    """Pretend to write a summary of the gathered sources."""
    lines = [f"- {source['query']}: {source['snippet']}" for source in sources]
    return f"Summary of {topic} ({len(sources)} sources)\n" + "\n".join(lines)


@flow
def research_agent(topic: str = "durable execution") -> dict:
    """Plan, gather every source at once with ``.submit()``, then summarise."""
    queries = plan(topic)
    futures = [gather.submit(query) for query in queries]
    sources = [future.result() for future in futures]
    log(sources=len(sources))
    summary = summarise(topic, sources)
    return {"topic": topic, "sources": len(sources), "summary": summary}


if __name__ == "__main__":
    result = research_agent(sys.argv[1] if len(sys.argv) > 1 else "durable execution")
    print(result["summary"])
