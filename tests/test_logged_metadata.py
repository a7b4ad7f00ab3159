"""What ``log(**metadata)`` recorded is shown on every surface, on both read paths.

One execution of ``flows_catalog/logged.py`` logs at flow scope (including a value too big for
one MCP result) and in two checkpoints, makes a mocked ``llm()`` call (whose usage keys must not
show up as user metadata) and needs a retry. The fast local SQLite path and the ZenML client path
must give the same answer; the SDK, the CLI (JSON and table) and MCP show it. The CLI's ``--wait``
progress names the attempts of a retried checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _mcp_support import call, data, list_tools
from cli_support import TESTS_DIR, kitaru, kitaru_json
from flows_catalog.logged import logged_flow
from flows_exec.support import new_salt
from jsonschema import Draft202012Validator

from kitaru_core import KitaruClient
from kitaru_core.backend.store import execution_store, zenml_adapter
from kitaru_core.cli.progress import progress_line
from kitaru_core.models import CheckpointCall, Execution, ExecutionStatus
from kitaru_mcp.server import build_server
from kitaru_mcp.tools.execution_views import CALL_METADATA_CHARS, METADATA_CHARS

LOGGED = TESTS_DIR / "flows_catalog" / "logged.py"


@pytest.fixture(scope="module")
def logged(zenml_client: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One finished execution of ``logged_flow`` (run in this process, LLM mocked)."""
    workdir = tmp_path_factory.mktemp("logged")
    salt = new_salt()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KITARU_LLM_MOCK_RESPONSE", "a mocked summary")
        handle = logged_flow.run(str(workdir), salt)
        assert handle.wait() == 3
    return {"exec_id": handle.exec_id, "salt": salt}


def _check(execution: Execution, salt: str) -> None:
    """What the user logged, and nothing Kitaru logged for itself."""
    assert set(execution.metadata) == {"phase", "salt", "big"}  # no kitaru_result
    assert execution.metadata["phase"] == "start" and execution.metadata["salt"] == salt
    calls = {call.call_id: call for call in execution.checkpoints}
    assert calls["fetch_rows"].metadata == {"source": "warehouse", "rows": 3, "salt": salt}
    assert calls["flaky_sum"].metadata == {"attempt": 2}
    assert calls["flaky_sum"].attempts == 2
    # The llm() usage is shown as llm_usage, not repeated as user metadata.
    assert calls["ask"].type == "llm_call" and calls["ask"].llm_usage is not None
    assert calls["ask"].metadata == {}


def test_both_read_paths_show_what_was_logged(logged: dict[str, str]) -> None:
    from kitaru_core.backend.store.sqlite_store import SQLiteStore

    quick_store = execution_store()
    assert isinstance(quick_store, SQLiteStore), "the fast path should apply to the test store"
    quick = quick_store.get_execution(logged["exec_id"])
    slow = zenml_adapter().get_execution(logged["exec_id"])
    _check(quick, logged["salt"])
    _check(slow, logged["salt"])
    assert quick.model_dump(exclude={"checkpoints"}) == slow.model_dump(exclude={"checkpoints"})
    assert [c.metadata for c in quick.checkpoints] == [c.metadata for c in slow.checkpoints]


def test_the_sdk_shows_what_was_logged(logged: dict[str, str]) -> None:
    _check(KitaruClient().executions.get(logged["exec_id"]), logged["salt"])


def test_a_cached_call_shows_what_its_original_logged(
    logged: dict[str, str], tmp_path: Path
) -> None:
    # fetch_rows gets the same inputs as in the first run, so it is a cache hit.
    again = logged_flow.run(str(tmp_path), logged["salt"], ask=False)
    again.wait()
    execution = KitaruClient().executions.get(again.exec_id)
    fetch = next(c for c in execution.checkpoints if c.call_id == "fetch_rows")
    assert fetch.cached
    assert fetch.metadata == {"source": "warehouse", "rows": 3, "salt": logged["salt"]}


def test_cli_get_shows_logged_metadata_in_json_and_table(logged: dict[str, str]) -> None:
    shown = kitaru_json("executions", "get", logged["exec_id"])
    assert shown["metadata"]["phase"] == "start" and len(shown["metadata"]["big"]) == 20_000
    calls = {c["call_id"]: c for c in shown["checkpoints"]}
    assert calls["fetch_rows"]["metadata"]["source"] == "warehouse"
    table = kitaru("executions", "get", logged["exec_id"]).stdout
    assert "Logged metadata" in table and "phase" in table
    assert "logged" in table and "warehouse" in table  # the checkpoint column


def test_mcp_get_shows_logged_metadata_bounded(logged: dict[str, str]) -> None:
    server = build_server("read-only")
    result = data(call(server, "kitaru_executions_get", {"exec_id": logged["exec_id"]}))
    schema = next(t for t in list_tools(server) if t.name == "kitaru_executions_get").output_schema
    assert schema is not None
    strict = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    strict.validate(result)
    metadata = result["metadata"]
    assert metadata["phase"] == "start"
    assert len(json.dumps(metadata)) <= METADATA_CHARS + 200  # the 20,000-character value is cut
    assert result["truncated"] is True and "metadata" in result["hint"]
    calls = {c["call_id"]: c for c in result["checkpoints"]}
    assert calls["fetch_rows"]["metadata"] == {
        "source": "warehouse",
        "rows": 3,
        "salt": logged["salt"],
    }
    assert len(json.dumps(calls["fetch_rows"]["metadata"])) < CALL_METADATA_CHARS


# ------------------------------------------------------------------------------ progress


def test_progress_names_the_attempts_of_a_retried_checkpoint(logged: dict[str, str]) -> None:
    execution = KitaruClient().executions.get(logged["exec_id"])
    calls = {call.call_id: call for call in execution.checkpoints}
    line = progress_line(calls["flaky_sum"])
    assert line is not None and "flaky_sum finished in" in line and line.endswith("(2 attempts)")
    once = progress_line(calls["fetch_rows"])
    assert once is not None and "fetch_rows finished" in once and "attempt" not in once


def test_progress_of_a_failed_retried_checkpoint_names_its_attempts() -> None:
    call = CheckpointCall(call_id="fetch", name="fetch", status=ExecutionStatus.FAILED, attempts=3)
    line = progress_line(call)
    assert line is not None and "fetch failed (3 attempts)" in line


def test_run_wait_shows_the_attempts_in_its_progress(tmp_path: Path) -> None:
    inputs = {"workdir": str(tmp_path), "salt": new_salt(), "ask": False}
    result = kitaru("run", f"{LOGGED}:logged_flow", "--input", json.dumps(inputs), "--wait")
    assert "flaky_sum finished in" in result.stderr
    assert "(2 attempts)" in result.stderr
