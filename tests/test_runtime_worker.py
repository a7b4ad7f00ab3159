"""The detached worker: ``start_job`` runs a flow target in its own process (SPEC §1.1, issue
deliverable 4). A bad target fails fast with a clear error and creates nothing; a good one hands
back the ``exec_id`` while the flow still runs, and the worker keeps a heartbeat file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from flows import basic
from runtime_helpers import TESTS_DIR, new_salt, run_count

from kitaru_core import FlowHandle, KitaruError, liveness
from kitaru_core.backend.runs import get_run
from kitaru_core.models import ExecutionStatus
from kitaru_core.runtime.detach import start_job

FLOWS = TESTS_DIR / "flows"


def _target(file: str, attribute: str) -> str:
    return f"{FLOWS / file}:{attribute}"


@pytest.mark.parametrize(
    ("job", "code", "words"),
    [
        pytest.param(
            {"target": _target("no_such_file.py", "my_flow")},
            "not_found",
            "no_such_file.py' does not exist",
            id="missing-file",
        ),
        pytest.param(
            {"target": "flows.no_such_module:my_flow"},
            "not_found",
            "could not be imported",
            id="missing-module",
        ),
        pytest.param(
            {"target": _target("basic.py", "no_such_flow")},
            "not_found",
            "has no attribute 'no_such_flow'",
            id="missing-attribute",
        ),
        pytest.param(
            {"target": _target("basic.py", "make_value")},
            "usage_error",
            "is a Checkpoint, not a flow",
            id="checkpoint-not-flow",
        ),
        pytest.param(
            {"target": _target("basic.py", "sample")},
            "usage_error",
            "is a function, not a flow",
            id="function-not-flow",
        ),
        pytest.param(
            {"target": _target("basic.py", "value_flow"), "inputs": {"kind": "str"}},
            "usage_error",
            "Inputs do not fit flow 'value_flow",
            id="missing-input",
        ),
        pytest.param(
            {
                "target": _target("basic.py", "value_flow"),
                "inputs": {"kind": "str", "salt": "x", "colour": "red"},
            },
            "usage_error",
            "Inputs do not fit flow 'value_flow",
            id="unknown-input",
        ),
        pytest.param(
            {"target": _target("basic.py", "value_flow"), "inputs": {"kind": 5, "salt": "x"}},
            "validation_error",
            "kind: Input should be a valid string",
            id="input-of-the-wrong-type",
        ),
        pytest.param(
            {"target": _target("basic.py", "value_flow"), "inputs": ["str", "x"]},
            "validation_error",  # refused as a malformed job, before any worker starts
            "inputs: Flow inputs must be a JSON object",
            id="inputs-not-an-object",
        ),
        pytest.param(
            {"target": "value_flow"},
            "usage_error",
            "is not a flow target",
            id="no-colon",
        ),
    ],
)
def test_a_bad_target_is_refused_and_creates_nothing(
    zenml_client: Any, monkeypatch: pytest.MonkeyPatch, job: dict[str, Any], code: str, words: str
) -> None:
    monkeypatch.chdir(TESTS_DIR)
    before = run_count(zenml_client)
    with pytest.raises(KitaruError) as info:
        start_job({"kind": "run", **job}, timeout=120)
    assert info.value.code == code, info.value.to_dict()
    assert words in info.value.message
    assert info.value.hint
    assert run_count(zenml_client) == before


def test_the_missing_attribute_error_lists_the_flows_there(
    zenml_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(TESTS_DIR)
    with pytest.raises(KitaruError) as info:
        start_job({"kind": "run", "target": _target("basic.py", "valeu_flow")}, timeout=120)
    assert "value_flow" in info.value.details["flows"]
    assert "value_flow" in (info.value.hint or "")


def test_a_good_target_returns_the_exec_id_while_the_flow_runs(
    zenml_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a file target works from any directory
    gate = tmp_path / "gate"
    salt = new_salt()
    exec_id, log_file = start_job(
        {
            "kind": "run",
            "target": _target("gated.py", "gated_flow"),
            "inputs": {"gate_file": str(gate), "salt": salt},
        },
        timeout=120,
    )
    try:
        handle = FlowHandle(exec_id)
        # The flow is held inside its checkpoint until the gate opens: start_job did not wait.
        assert handle.status == ExecutionStatus.RUNNING

        record = liveness.read(exec_id)
        assert record is not None
        assert record["exec_id"] == exec_id
        assert record["pid"] != os.getpid()
        assert liveness.pid_alive(int(record["pid"]))
        assert liveness.is_alive(record)
    finally:
        gate.write_text(salt)

    assert handle.wait(timeout=60) == f"released: {salt}"
    # The file lies in the package ``flows``: the worker imported it under its full name, the
    # same name this process uses, so a resume or replay from here finds the same module.
    assert get_run(exec_id).snapshot.pipeline_spec.source.module == "flows.gated"
    assert log_file.is_file()
    log_text = log_file.read_text()
    assert f"[kitaru] flow 'gated_flow' started on stack 'default' — exec_id {exec_id}" in log_text
    assert "[kitaru] checkpoint 'hold_until' finished" in log_text


def test_a_module_target_imports_the_flow_under_its_own_name(
    zenml_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(TESTS_DIR)
    exec_id, _ = start_job(
        {
            "kind": "run",
            "target": "flows.basic:value_flow",
            "inputs": {"kind": "model", "salt": new_salt()},
        },
        timeout=120,
    )
    value = FlowHandle(exec_id).wait(timeout=60)
    # The worker imported flows.basic (not a second module "basic"), so the stored class is
    # the one this process has.
    assert isinstance(value, basic.Point)
    assert value == basic.Point(x=1, y=2)
