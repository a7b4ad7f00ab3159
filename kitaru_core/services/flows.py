"""Flow operations: which flows the store knows, how to start each one, and their state.

A flow is known once it ran or was deployed. For each one this lists its target (what
``kitaru run`` / ``kitaru_executions_run`` takes), its parameters with their types, its last
execution and its deployed versions with their routing tags.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kitaru_core.models import FlowDeployment, FlowInfo, FlowLastExecution, FlowParameter
from kitaru_core.naming import flow_alias
from kitaru_core.requests.executions import check_limit, decode_cursor, encode_cursor

if TYPE_CHECKING:
    from kitaru_core.backend.flows import FlowRecord


def list_flows(
    *, limit: int | None = None, cursor: str | None = None
) -> tuple[list[FlowInfo], str | None]:
    """Known flows by name; returns ``(items, next_cursor)``."""
    from kitaru_core.backend import flows as backend

    size = check_limit(limit)
    offset = decode_cursor(cursor)
    records, has_more = backend.list_flows(offset=offset, size=size)
    items = [flow_info(record) for record in records]
    return items, encode_cursor(offset + size) if has_more else None


def flow_info(record: FlowRecord) -> FlowInfo:
    """The public view of what the store holds about one flow."""
    latest = record.deployments[-1] if record.deployments else None
    run = record.last_run
    return FlowInfo(
        name=record.name,
        target=run_target(record) or (latest.target if latest else None),
        # A deployment saved the flow's real signature (which inputs are required); a run only
        # the values it was given.
        parameters=parameters(latest.input_schema if latest else record.input_schema),
        last_execution=(
            FlowLastExecution(exec_id=run.exec_id, status=run.status, started_at=run.started_at)
            if run
            else None
        ),
        deployments=[
            FlowDeployment(version=item.version, tags=item.tags, local=item.local)
            for item in record.deployments
        ],
    )


def run_target(record: FlowRecord) -> str | None:
    """``/root/pkg/module.py:flow`` from where the last run imported the flow; ``module:flow``
    when that file is not on this machine. ``None`` for a flow defined in a REPL or notebook
    (nothing can load it again) and for pipelines that are not Kitaru flows."""
    module = record.source.get("module")
    if (
        record.interactive
        or not module
        or record.source.get("attribute") != flow_alias(record.name)
    ):
        return None
    if record.source_root:
        base = Path(record.source_root).joinpath(*str(module).split("."))
        for candidate in (base.parent / f"{base.name}.py", base / "__init__.py"):
            if candidate.is_file():
                return f"{candidate}:{record.name}"
    return None if module == "__main__" else f"{module}:{record.name}"


def parameters(schema: dict[str, Any]) -> list[FlowParameter]:
    """A flow's inputs from the JSON schema of its signature (in declaration order)."""
    properties = schema.get("properties") or {}
    required = schema.get("required")
    return [
        FlowParameter(
            name=str(name),
            type=type_name(prop if isinstance(prop, dict) else {}),
            # A run's schema lists no ``required`` (every input has the run's value as default).
            required=(name in required) if isinstance(required, list) else None,
        )
        for name, prop in properties.items()
    ]


def type_name(prop: dict[str, Any]) -> str | None:
    """A short type for one JSON-schema property: ``integer``, ``string | null``,
    ``array[string]``, or a model's name (``Options``); ``None`` when the schema says nothing."""
    ref = prop.get("$ref")
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        options = prop.get(key)
        if isinstance(options, list):
            names = [type_name(option) for option in options if isinstance(option, dict)]
            return " | ".join(name or "any" for name in names) or None
    kind = prop.get("type")
    if isinstance(kind, list):
        return " | ".join(str(item) for item in kind) or None
    if kind == "array" and isinstance(prop.get("items"), dict):
        inner = type_name(prop["items"])
        return f"array[{inner}]" if inner else "array"
    return str(kind) if kind else None
