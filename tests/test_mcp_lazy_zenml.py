"""On the local store the MCP server reads without loading ZenML into its own process, and
starts loading it in the background once an execution waits for an answer (which writes)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

from flows_exec import listing
from flows_exec.support import new_salt
from runtime_helpers import TESTS_DIR

from kitaru_mcp import transport


def run_in_fresh_process(code: str) -> None:
    script = f"import sys\nsys.path.insert(0, {str(TESTS_DIR)!r})\n" + textwrap.dedent(code)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]


def test_read_tools_do_not_load_zenml_in_the_server(zenml_client: Any) -> None:
    exec_id = listing.compared_flow.run(f"lazy-{new_salt()}").exec_id
    run_in_fresh_process(
        f"""
        from _mcp_support import call, data
        from kitaru_mcp.server import build_server

        server = build_server()
        for tool, arguments in [
            ("kitaru_status", {{}}),
            ("kitaru_stacks_list", {{}}),
            ("kitaru_stacks_current", {{}}),
            ("kitaru_executions_list", {{"limit": 5}}),
            ("kitaru_executions_latest", {{}}),
            ("kitaru_executions_get", {{"exec_id": "{exec_id}"}}),
            ("kitaru_executions_logs", {{"exec_id": "{exec_id}"}}),
            ("kitaru_executions_waiting", {{}}),
        ]:
            data(call(server, tool, arguments))
        loaded = sorted(name for name in sys.modules if name.split(".")[0] == "zenml")
        assert not loaded, loaded[:5]
        """
    )


def test_a_waiting_execution_starts_loading_zenml(zenml_client: Any) -> None:
    run_in_fresh_process(
        """
        from kitaru_core.backend import bootstrap, local_store
        from kitaru_core.models import Execution, ExecutionStatus
        from kitaru_mcp.tools.execution_views import execution_view

        execution_view(Execution(exec_id="x", flow="f", status=ExecutionStatus.COMPLETED))
        assert bootstrap._opener is None
        # On the local store an answer needs no ZenML in the server (backend/local_waits.py).
        execution_view(Execution(exec_id="x", flow="f", status=ExecutionStatus.WAITING))
        assert bootstrap._opener is None
        local_store.open_local = lambda: None  # as on a server: answers go through ZenML
        execution_view(Execution(exec_id="x", flow="f", status=ExecutionStatus.WAITING))
        assert bootstrap._opener is not None
        bootstrap._opener.join(120)
        assert bootstrap._client is not None
        """
    )


def test_the_server_warm_up_knows_the_store_is_local(zenml_client: Any) -> None:
    assert transport._reads_are_local()
