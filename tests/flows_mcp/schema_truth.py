"""Flows for the schema-truth test (``tests/test_mcp_schema_truth.py``): an execution that stays
running until the test opens a gate, one that calls a (mocked) model, and a flow to deploy.

Every flow takes a ``salt`` so that no other test shares a cache entry with them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from kitaru_core import checkpoint, flow, llm

# A cap, so a test that never opens the gate (or cancels) does not leave a worker behind long.
HOLD_LIMIT = 600.0


@checkpoint(cache=False)
def hold(gate_file: str) -> str:
    deadline = time.monotonic() + HOLD_LIMIT
    while not Path(gate_file).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{gate_file} never appeared")
        time.sleep(0.05)
    return "released"


@flow
def truth_hold_flow(gate_file: str, salt: str) -> str:
    """Running until ``gate_file`` exists (the test cancels it first)."""
    return hold(gate_file)


@flow
def truth_llm_flow(salt: str) -> str:
    """One ``llm_call`` checkpoint. The mock answer is set here, in the worker, because the
    worker may be forked from a warm process started before the test could set it."""
    os.environ.setdefault("KITARU_LLM_MOCK_RESPONSE", "a mocked answer")
    return llm(f"summarise {salt}", model="openai/gpt-4o-mini", name="summary")


@checkpoint
def research(topic: str, salt: str) -> str:
    return f"researched {topic}"


@flow
def truth_deployed_agent(topic: str, salt: str = "") -> str:
    """Deployed twice (allow_local) with tags for the deployment tools' cases."""
    return research(topic, salt)


@flow
def truth_other_agent(topic: str, salt: str = "") -> str:
    """A second deployed flow, so listing every flow's deployments shows more than one."""
    return research(topic, salt)
