"""Flow tools: what can be run. ``kitaru_flows_list`` answers "which flows exist, how do I
start one, and what state is it in?" before an assistant runs, invokes or inspects anything.
"""

from __future__ import annotations

from kitaru_core.models import FlowInfo
from kitaru_mcp.results import DEFAULT_LIMIT, Cursor, Limit, Page


class FlowPage(Page[FlowInfo]):
    """A page of flows by name: each with its target, typed parameters, last execution and
    deployed versions (with routing tags)."""


def kitaru_flows_list(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> FlowPage:
    """List the flows the store knows (every flow that ran or was deployed), by name. Each has
    its `target` ('<file.py>:<flow>', what running a flow takes; null for a flow defined
    in a REPL or notebook), its `parameters` (name, JSON-schema type, and `required` when a
    deployment recorded the signature), its `last_execution` (exec_id, status, started_at) and
    its `deployments` (versions with routing tags).

    Use it first when asked to run something. Next: {tool:kitaru_executions_run|run it}
    (target, args) or {tool:kitaru_deployments_invoke|invoke a deployment} (flow, tag);
    kitaru_executions_get(last exec_id) to
    inspect, kitaru_executions_list(flow=...) for its history. Paged: pass `next_cursor` back
    as `cursor` while it is not null."""
    from kitaru_core.requests.executions import decode_cursor, encode_cursor
    from kitaru_core.services import flows
    from kitaru_mcp.results import fit_page

    offset = decode_cursor(cursor)
    items, next_cursor = flows.list_flows(limit=limit, cursor=cursor)
    return fit_page(
        FlowPage,
        items,
        next_cursor=next_cursor,
        cursor_after=lambda kept: encode_cursor(offset + kept),
    )


TOOLS = (kitaru_flows_list,)
