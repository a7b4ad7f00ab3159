"""The PipelineInput shadowing warning is dropped narrowly: only that message, only while ZenML
builds the flow's input model. (The end-to-end check is in ``test_runtime_flows.py``.)"""

from __future__ import annotations

import warnings
from types import SimpleNamespace
from typing import Any

import pydantic


def _entrypoint(schema: str, copy: int) -> None:
    """A flow body whose parameters shadow BaseModel attributes."""


def test_the_input_model_builds_without_the_shadowing_warning(zenml_client: Any) -> None:
    from zenml.pipelines.pipeline_definition import Pipeline

    from kitaru_core.backend.quirks import quiet_flow_input_model

    quiet_flow_input_model()
    quiet_flow_input_model()  # idempotent: wrapped once
    fake = SimpleNamespace(entrypoint=_entrypoint, _parameters={})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = Pipeline._compute_input_model(fake)  # type: ignore[arg-type]
    assert model is not None and set(model.model_fields) == {"schema", "copy"}
    assert [str(w.message) for w in caught if "shadows" in str(w.message)] == []


def test_the_same_warning_elsewhere_still_shows(zenml_client: Any) -> None:
    from kitaru_core.backend.quirks import quiet_flow_input_model

    quiet_flow_input_model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pydantic.create_model("UserModel", schema=(str, ...))
        warnings.warn("another warning", UserWarning, stacklevel=1)
    messages = [str(w.message) for w in caught]
    assert any('"UserModel" shadows' in message for message in messages)
    assert "another warning" in messages
