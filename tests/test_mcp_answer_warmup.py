"""An MCP server on the local store that shows a waiting execution through
``kitaru_executions_list`` prepares for the answer like ``get``/``waiting``/``run`` do, and the
answer itself (``kitaru_executions_input``) is recorded without ZenML in the server."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from flows_exec import approval
from flows_exec.support import new_salt, until_finished
from runtime_helpers import TESTS_DIR

from kitaru_core.models import ExecutionStatus


def test_list_prepares_the_answer_and_the_answer_needs_no_zenml(
    zenml_client: Any, tmp_path: Path
) -> None:
    handle = approval.go_gate_flow.run(str(tmp_path), new_salt(), timeout=0)
    script = f"import sys\nsys.path.insert(0, {str(TESTS_DIR)!r})\n" + textwrap.dedent(
        f"""
        from _mcp_support import call, data
        from kitaru_core.backend import bootstrap, local_waits
        from kitaru_core.services import system
        from kitaru_mcp.server import build_server

        # Record the warm-up instead of loading ZenML, to see the answer does without it.
        asked = []
        system.expect_answer = lambda: asked.append(True)
        server = build_server()
        items = data(call(server, "kitaru_executions_list", {{"status": "waiting"}}))["items"]
        assert any(item["exec_id"] == {handle.exec_id!r} for item in items), items
        assert asked, "list showed a waiting execution but did not prepare the answer"
        answered = data(call(server, "kitaru_executions_input", {{"exec_id": {handle.exec_id!r}}}))
        assert answered["pending_wait"] is None, answered
        loaded = sorted(name for name in sys.modules if name.split(".")[0] == "zenml")
        assert not loaded, loaded[:5]
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert until_finished(handle.exec_id).status == ExecutionStatus.COMPLETED
