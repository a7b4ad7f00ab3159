"""Narrow fixes for ZenML behaviour that reaches Kitaru users but says nothing to them."""

from __future__ import annotations

# pydantic warns when a field name shadows a BaseModel attribute (``schema``, ``json``,
# ``copy``, …). ZenML builds a ``PipelineInput`` model from the flow's parameters on every
# compile, so a flow parameter named ``schema`` printed this warning on each run, though the
# model works (ZenML only derives a JSON schema from it). Only this exact message is ignored,
# and only while ZenML builds that model.
_SHADOW_WARNING = (
    r'Field name "[^"]+" in "PipelineInput" shadows an attribute in parent "BaseModel"'
)


def quiet_flow_input_model() -> None:
    """Drop the shadowing warning while ZenML builds a flow's input model (once per process)."""
    from kitaru_core.backend.zenml_compat.pipeline import ignore_input_model_warning

    ignore_input_model_warning(_SHADOW_WARNING)
