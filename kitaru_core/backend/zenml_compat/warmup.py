"""What a pre-forked worker imports and computes once so that each run it forks is faster.

ZenML names used: the internal modules in :data:`RUN_PATH_MODULES` (seen imported on the first
run of a dynamic pipeline) and ``zenml.environment.get_run_environment_dict``.
"""

from __future__ import annotations

import importlib

RUN_PATH_MODULES = (
    "zenml.artifacts.in_memory_cache",
    "zenml.config.compiler",
    "zenml.config.settings_resolver",
    "zenml.execution.pipeline.dynamic.runner",
    "zenml.execution.pipeline.dynamic.compilation",
    "zenml.execution.pipeline.dynamic.interactive_input_utils",
    "zenml.execution.pipeline.dynamic.pipeline_output_utils",
    "zenml.execution.pipeline.utils",
    "zenml.execution.step.utils",
    "zenml.execution.utils",
    "zenml.orchestrators.cache_utils",
    "zenml.orchestrators.local.local_orchestrator",
    "zenml.orchestrators.signal_handler",
    "zenml.orchestrators.step_launcher",
    "zenml.orchestrators.step_run_utils",
    "zenml.pipelines.build_utils",
    "zenml.pipelines.compilation_context",
    "zenml.pipelines.dynamic.pipeline_definition",
    "zenml.pipelines.pipeline_definition",
    "zenml.steps.decorated_step",
    "zenml.steps.step_invocation",
    "zenml.utils.pipeline_docker_image_builder",
    "zenml.utils.warnings.controller",
)


def import_run_path() -> list[str]:
    """Import :data:`RUN_PATH_MODULES`; returns those this ZenML does not have (only a head
    start: a module a newer ZenML moved is simply imported later, by the run)."""
    missing: list[str] = []
    for name in RUN_PATH_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def capture_run_environment() -> None:
    """Compute the run-environment record ZenML caches per process (the package list)."""
    from zenml.environment import get_run_environment_dict

    get_run_environment_dict()
