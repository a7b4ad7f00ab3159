"""Small flows for versioning, routing and refusal tests; most are deployed, never run.

Each test owns its flows (see the package docstring), hence one flow per scenario.
"""

from __future__ import annotations

from pydantic import BaseModel

from kitaru_core import flow


class Options(BaseModel):
    """A structured flow input: saved with a deployment as JSON, validated again on invoke."""

    depth: int = 1
    mode: str = "fast"


def _echo(topic: str, depth: int) -> dict[str, object]:
    return {"topic": topic, "depth": depth}


@flow
def counting_a(topic: str) -> str:
    return topic


@flow
def counting_b(topic: str) -> str:
    return topic


@flow
def recorded_flow(
    topic: str, depth: int = 2, options: Options | None = None, tags: list[str] | None = None
) -> dict[str, object]:
    return _echo(topic, depth)


@flow
def target_flow(topic: str, options: Options = Options()) -> dict[str, object]:  # noqa: B008
    return {"topic": topic, "kind": type(options).__name__, **options.model_dump()}


@flow
def module_target_flow(topic: str) -> str:
    return topic


@flow
def one_tag_flow(topic: str) -> str:
    return topic


@flow
def tagging_flow(topic: str) -> str:
    return topic


@flow
def mode_flow(topic: str) -> str:
    return topic


@flow
def deletion_flow(topic: str) -> str:
    return topic


@flow
def atomic_flow(topic: str) -> str:
    return topic


@flow
def scope_a(topic: str) -> str:
    return topic


@flow
def scope_b(topic: str) -> str:
    return topic


@flow
def selector_flow(topic: str) -> str:
    return topic


@flow
def no_default_flow(topic: str) -> str:
    return topic


@flow
def never_deployed_flow(topic: str) -> str:
    return topic


@flow
def guard_flow(topic: str) -> str:
    return topic


@flow
def remote_flow(topic: str) -> str:
    return topic


@flow
def inputs_flow(topic: str, depth: int = 1) -> dict[str, object]:
    return _echo(topic, depth)


@flow
def curl_flow(topic: str) -> str:
    return topic


@flow
def strict_flow(topic: str) -> str:
    return topic
