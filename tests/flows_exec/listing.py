"""A flow used only by the list/latest tests, so their filters see nothing else."""

from __future__ import annotations

from kitaru_core import checkpoint, flow


@checkpoint
def label(value: str, fail: bool) -> str:
    if fail:
        raise ValueError(f"refusing {value}")
    return f"label {value}"


@flow
def listed_flow(value: str, fail: bool = False) -> str:
    return label(value, fail)


@flow
def compared_flow(value: str, fail: bool = False) -> str:
    """The fast-read comparison tests' own flow, so that the list tests see none of its runs."""
    return label(value, fail)
