"""ZenML pipeline internals: the flow-input model builder, and loading a recorded pipeline.

ZenML names used: ``zenml.pipelines.pipeline_definition.Pipeline._compute_input_model``
(wrapped) and ``zenml.pipelines.dynamic.pipeline_definition.DynamicPipeline.load_from_source``.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

_MARK = "_kitaru_quiet_shadowing"


def ignore_input_model_warning(message: str) -> None:
    """Ignore the ``UserWarning`` matching ``message`` (a regex) while ZenML builds a flow's
    input model; once per process, and a no-op on a ZenML without that builder."""
    from zenml.pipelines.pipeline_definition import Pipeline

    original = getattr(Pipeline, "_compute_input_model", None)
    if original is None or getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def compute_input_model(self: Any) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
            return original(self)

    setattr(compute_input_model, _MARK, True)
    Pipeline._compute_input_model = compute_input_model  # type: ignore[method-assign]


def load_dynamic_pipeline(source: Any) -> Any:
    """The dynamic pipeline a run recorded as its source (its module is imported)."""
    from zenml.pipelines.dynamic.pipeline_definition import DynamicPipeline

    return DynamicPipeline.load_from_source(source)
