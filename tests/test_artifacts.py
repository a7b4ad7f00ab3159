"""Artifacts of real executions: checkpoint outputs, ``save()``d values and flow results, listed
and read back with their value rendered and bounded (SPEC §1.3)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flows_exec import records
from flows_exec.support import new_salt

from kitaru_core import KitaruClient
from kitaru_core.errors import KitaruNotFoundError, KitaruValidationError
from kitaru_core.services import artifacts


@pytest.fixture(scope="module")
def modelled(zenml_client: Any) -> dict[str, Any]:
    salt = new_salt()
    handle = records.model_flow.run(salt)
    return {"exec_id": handle.exec_id, "salt": salt}


def test_list_shows_outputs_saved_values_and_the_result(modelled: dict[str, Any]) -> None:
    items = artifacts.list_artifacts(modelled["exec_id"])
    by_name = {item.name: item for item in items}

    assert sorted(by_name) == ["note", "raw_rows", "result", "summarize_rows.output"]
    assert len(items) == len(by_name)  # nothing listed twice under one name
    assert all(item.exec_id == modelled["exec_id"] for item in items)
    assert all(item.value is None for item in items)  # list does not load values

    output = by_name["summarize_rows.output"]
    assert output.checkpoint == "summarize_rows"
    assert output.data_type == "Summary"
    assert by_name["raw_rows"].checkpoint == "summarize_rows"  # saved inside the checkpoint
    assert by_name["raw_rows"].data_type == "dict"
    assert by_name["note"].checkpoint is None  # saved at flow scope
    assert by_name["note"].data_type == "str"
    # The flow returned the checkpoint's model: the result is that very artifact.
    assert by_name["result"].artifact_id == output.artifact_id
    assert by_name["result"].data_type == "Summary"


def test_list_filters_by_name_and_limit(modelled: dict[str, Any]) -> None:
    rows = KitaruClient().artifacts.list(modelled["exec_id"], name="rows")
    assert sorted(item.name for item in rows) == ["raw_rows", "summarize_rows.output"]
    assert len(artifacts.list_artifacts(modelled["exec_id"], limit=2)) == 2
    assert artifacts.list_artifacts(modelled["exec_id"], name="nothing-like-this") == []
    with pytest.raises(KitaruValidationError):
        artifacts.list_artifacts(modelled["exec_id"], limit=0)


def test_get_renders_values(modelled: dict[str, Any]) -> None:
    salt = modelled["salt"]
    by_name = {item.name: item for item in artifacts.list_artifacts(modelled["exec_id"])}

    result = KitaruClient().artifacts.get(by_name["result"].artifact_id)
    assert result.value == {"title": f"rows {salt}", "score": 0.5, "tags": ["a", "b"]}
    assert result.truncated is False
    assert result.data_type == "Summary"
    assert result.exec_id == modelled["exec_id"]
    assert result.checkpoint == "summarize_rows"
    assert result.name == "summarize_rows.output"

    raw = artifacts.get(by_name["raw_rows"].artifact_id)
    assert raw.value == {"salt": salt, "rows": [1, 2, 3]}
    assert raw.name == "raw_rows"
    note = artifacts.get(by_name["note"].artifact_id)
    assert note.value == f"note for {salt}"
    assert note.data_type == "str"


def test_a_model_built_in_the_flow_body_is_its_own_result_artifact(zenml_client: Any) -> None:
    salt = new_salt()
    handle = records.body_model_flow.run(salt)
    items = {item.name: item for item in artifacts.list_artifacts(handle.exec_id)}
    assert sorted(items) == ["load_rows.output", "result"]
    assert items["result"].artifact_id != items["load_rows.output"].artifact_id
    assert items["result"].checkpoint is None
    value = artifacts.get(items["result"].artifact_id).value
    assert value == {"title": f"body {salt}", "score": 6.0, "tags": [salt]}


def test_big_values_are_cut_to_max_chars(zenml_client: Any) -> None:
    size = 50_000
    handle = records.big_output_flow.run(new_salt(), size=size)
    assert handle.wait(timeout=60) >= size
    (output,) = artifacts.list_artifacts(handle.exec_id, name="big_text")

    short = artifacts.get(output.artifact_id, max_chars=100)
    assert short.truncated is True
    assert isinstance(short.value, str) and len(short.value) == 100

    default = KitaruClient().artifacts.get(output.artifact_id)
    assert default.truncated is True
    assert len(default.value) == artifacts.VALUE_LIMIT

    whole = artifacts.get(output.artifact_id, max_chars=artifacts.MAX_VALUE_LIMIT)
    assert whole.truncated is False
    assert len(whole.value) >= size

    for bad in (0, -1, artifacts.MAX_VALUE_LIMIT + 1):
        with pytest.raises(KitaruValidationError) as caught:
            artifacts.get(output.artifact_id, max_chars=bad)
        assert set(caught.value.fields) == {"max_chars"}


def test_unknown_and_malformed_ids(zenml_client: Any) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(KitaruNotFoundError) as not_found:
        artifacts.get(missing)
    assert not_found.value.code == "not_found"
    assert not_found.value.details["artifact_id"] == missing

    # A malformed id names no artifact: not_found, like an unknown one (SPEC §1.5).
    with pytest.raises(KitaruNotFoundError) as malformed:
        KitaruClient().artifacts.get("artifact-7")
    assert malformed.value.code == "not_found"
    assert "artifact-7" in malformed.value.message

    with pytest.raises(KitaruNotFoundError):
        artifacts.list_artifacts(str(uuid.uuid4()))
    with pytest.raises(KitaruNotFoundError):
        artifacts.list_artifacts("not-an-execution")
