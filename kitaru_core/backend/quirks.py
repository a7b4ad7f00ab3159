"""Narrow fixes for ZenML behaviour that reaches Kitaru users but says nothing to them."""

from __future__ import annotations

import functools
import warnings
from typing import Any

# pydantic warns when a field name shadows a BaseModel attribute (``schema``, ``json``,
# ``copy``, …). ZenML builds a ``PipelineInput`` model from the flow's parameters on every
# compile, so a flow parameter named ``schema`` printed this warning on each run, though the
# model works (ZenML only derives a JSON schema from it). Only this exact message is ignored,
# and only while ZenML builds that model.
_SHADOW_WARNING = (
    r'Field name "[^"]+" in "PipelineInput" shadows an attribute in parent "BaseModel"'
)
_MARK = "_kitaru_quiet_shadowing"


def quiet_flow_input_model() -> None:
    """Wrap ZenML's input-model builder (once per process) so it drops the shadowing warning."""
    from zenml.pipelines.pipeline_definition import Pipeline

    original = getattr(Pipeline, "_compute_input_model", None)
    if original is None or getattr(original, _MARK, False):
        return  # a ZenML without this builder, or wrapped already

    @functools.wraps(original)
    def compute_input_model(self: Any) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_SHADOW_WARNING, category=UserWarning)
            return original(self)

    setattr(compute_input_model, _MARK, True)
    Pipeline._compute_input_model = compute_input_model  # type: ignore[method-assign]
