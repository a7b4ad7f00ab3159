"""Answering a wait on the local store without ZenML (``kitaru_core/backend/local_waits.py``).

Real flows in detached workers, answered by the real CLI as a subprocess run with
``python -X importtime``, so each test can see that the answering process never imported ZenML.
The row the fast path writes is read back through ZenML, and a store whose schema version the
fast path does not know falls back to ZenML.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flows_exec.common import marks
from flows_exec.support import (
    new_salt,
    process_gone,
    start,
    until_finished,
    until_paused,
    until_status,
)

from kitaru_core import liveness
from kitaru_core.backend import local_waits
from kitaru_core.backend.zenml_compat import schema
from kitaru_core.models import ExecutionStatus
from kitaru_core.services import executions

GOOD = {"decision": "approve", "reviewer": {"name": "ada"}}
OTHER = {"decision": "reject", "reviewer": {"name": "bob"}}


@pytest.fixture
def workdir(tmp_path: Path) -> str:
    folder = tmp_path / "marks"
    folder.mkdir()
    return str(folder)


def cli_answer(exec_id: str, value: Any, *extra: str) -> tuple[int, Any, set[str]]:
    """``kitaru executions input EXEC_ID --value VALUE -o json`` as a real process: its exit
    code, its JSON (stdout, or the error on stderr) and the modules it imported."""
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "kitaru_core.cli.main",
            "executions",
            "input",
            exec_id,
            "--value",
            json.dumps(value),
            *extra,
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )
    imported = set()
    errors = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:"):
            imported.add(line.rsplit("|", 1)[-1].strip())
        else:
            errors.append(line)
    body = done.stdout if done.returncode == 0 else "\n".join(errors)
    return done.returncode, json.loads(body), imported


def zenml_imported(modules: set[str]) -> bool:
    return any(name == "zenml" or name.startswith("zenml.") for name in modules)


def test_cli_answer_after_the_timeout_resumes_without_zenml(
    zenml_client: Any, workdir: str
) -> None:
    salt = new_salt()
    exec_id = start("approval", "signoff_flow", workdir=workdir, salt=salt, timeout=1)
    until_paused(exec_id)
    first = liveness.read(exec_id)
    assert first is not None and process_gone(int(first["pid"]))
    assert local_waits.for_answers(exec_id) is not None  # the fast path applies here

    # A value that does not fit the schema: rejected, nothing recorded, nothing resumed.
    code, error, imported = cli_answer(exec_id, {"decision": "maybe"}, "--wait", "approval")
    assert code == 2 and error["error"]["code"] == "wait_validation_error"
    assert not zenml_imported(imported)
    assert executions.get(exec_id).pending_wait is not None
    assert marks(workdir, "finalize") == []

    code, answered, imported = cli_answer(exec_id, GOOD, "--wait", "approval")
    assert code == 0, answered
    assert not zenml_imported(imported)  # the answer itself never loaded ZenML
    assert answered["pending_wait"] is None
    done = until_finished(exec_id)
    assert done.status == ExecutionStatus.COMPLETED
    assert done.result == f"draft {salt}: approve"
    assert marks(workdir, "write_draft") == ["ran"]  # the completed checkpoint was reused
    assert marks(workdir, "finalize") == ["approve"]
    resumer = liveness.read(exec_id)
    assert resumer is not None and resumer["pid"] != first["pid"]

    # ZenML reads the row exactly as if it had resolved the wait itself.
    condition = _only_condition(zenml_client, exec_id)
    assert condition.status.value == "resolved"
    assert condition.resolution.value == "continue"
    assert condition.result == GOOD
    assert condition.resolved_at is not None
    assert condition.resolved_by_user_id == zenml_client.active_user.id

    # The same answer again is harmless; a different one is a state error and changes nothing.
    code, again, _ = cli_answer(exec_id, GOOD, "--wait", "approval")
    assert code == 0 and again["status"] == "completed"
    code, error, _ = cli_answer(exec_id, OTHER, "--wait", "approval")
    assert code == 1 and error["error"]["code"] == "invalid_state"
    assert _only_condition(zenml_client, exec_id).result == GOOD
    assert marks(workdir, "finalize") == ["approve"]


def test_cli_answer_while_the_worker_polls_continues_it(zenml_client: Any, workdir: str) -> None:
    salt = new_salt()
    exec_id = start("approval", "signoff_flow", workdir=workdir, salt=salt, timeout=120)
    until_status(exec_id, "waiting")
    worker = liveness.read(exec_id)
    assert worker is not None

    code, answered, imported = cli_answer(exec_id, GOOD)
    assert code == 0, answered
    assert not zenml_imported(imported)
    done = until_finished(exec_id)
    assert done.status == ExecutionStatus.COMPLETED
    assert done.result == f"draft {salt}: approve"
    after = liveness.read(exec_id)
    assert after is not None and after["pid"] == worker["pid"]  # no resume worker took over
    assert marks(workdir, "finalize") == ["approve"]


def test_unknown_execution_is_not_found_from_the_fast_path(zenml_client: Any) -> None:
    code, error, imported = cli_answer("0" * 32, GOOD)
    assert code == 1 and error["error"]["code"] == "not_found"
    assert not zenml_imported(imported)


def test_an_unknown_schema_version_answers_through_zenml(
    zenml_client: Any, workdir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows_exec import approval

    handle = approval.signoff_flow.run(workdir, new_salt(), timeout=0)
    # A store revision we do not know: the check runs again under the patch (and again,
    # unpatched, after the test).
    monkeypatch.setattr(schema, "SUPPORTED_REVISIONS", frozenset({"0.0.0"}))
    schema.forget()
    monkeypatch.setattr(schema, "_checked", {})
    assert local_waits.for_answers(handle.exec_id) is None
    answered = executions.answer(handle.exec_id, wait="approval", value=GOOD, resume=False)
    assert answered.outcome == executions.AnswerOutcome.RECORDED
    assert _only_condition(zenml_client, handle.exec_id).result == GOOD


def _only_condition(client: Any, exec_id: str) -> Any:
    found = client.list_run_wait_conditions(pipeline_run=exec_id, hydrate=True, size=10).items
    assert len(found) == 1
    return client.zen_store.get_run_wait_condition(found[0].id, hydrate=True)
