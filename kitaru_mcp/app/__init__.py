"""The execution app (MCP Apps): a ``ui://`` page that hosts render next to an execution.

``kitaru_executions_get`` and ``kitaru_executions_run`` carry ``_meta.ui.resourceUri`` pointing
at :data:`EXECUTION_APP_URI`; a host that speaks MCP Apps renders ``execution.html`` in a
sandboxed iframe and feeds it the tool's result. The page then talks back through the host
(``tools/call``) to refresh, read logs, answer a wait, retry or replay. Clients without Apps
ignore the ``_meta`` and get the same structured result as before.

Cheap to import: the HTML stays on disk until a host reads the resource.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp.server.apps import Apps
from mcp.server.mcpserver.resources import FileResource

EXECUTION_APP_URI = "ui://kitaru/execution.html"
HTML_PATH = Path(__file__).resolve().parent / "execution.html"

# The tools whose result the page knows how to show.
APP_TOOLS = frozenset({"kitaru_executions_get", "kitaru_executions_run"})


def tool_meta(tool: str) -> dict[str, Any] | None:
    """The ``_meta`` that binds ``tool`` to the execution app (``None`` for other tools)."""
    if tool not in APP_TOOLS:
        return None
    return {"ui": {"resourceUri": EXECUTION_APP_URI}}


def extension() -> Apps:
    """The MCP Apps extension with the execution page as its one resource.

    The page is a :class:`FileResource`, read from disk at ``resources/read`` time, so building
    the server does not read it. The tools are stamped by the server's own registration
    (``tool_meta``), which keeps its mode rules and error handling.
    """
    apps = Apps()
    apps.add_resource(
        FileResource(
            uri=EXECUTION_APP_URI,
            name="kitaru-execution",
            title="Kitaru execution",
            description="A live view of one execution: checkpoint timeline, log tail, the "
            "pending wait as a form, retry and replay.",
            path=HTML_PATH,
        )
    )
    return apps
