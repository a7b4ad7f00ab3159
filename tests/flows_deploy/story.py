"""The seed's producer flow: a research agent whose result shows which inputs it ran with.

``style`` stands for a deploy-time setting: a version deployed with ``style="v2"`` answers
``"v2: ..."`` unless the invocation overrides it, so the result tells which version ran.
"""

from __future__ import annotations

from kitaru_core import checkpoint, flow


@checkpoint
def research(topic: str, style: str) -> str:
    return f"{style}: notes on {topic}"


@flow
def story_agent(topic: str, style: str = "plain") -> str:
    return research(topic, style)


@flow
def pinned_agent(topic: str, style: str = "plain") -> str:
    return research(topic, style)
