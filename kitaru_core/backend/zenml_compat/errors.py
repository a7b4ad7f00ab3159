"""ZenML exceptions Kitaru tells apart, checked against the classes themselves (never by a
class-name string, which a rename upstream would silently stop matching).

ZenML names used: ``zenml.execution.pipeline.dynamic.runner.RunPaused`` and
``_WaitConditionAborted``, ``zenml.exceptions.AuthorizationException``.
"""

from __future__ import annotations


def is_run_suspension(exc: BaseException) -> bool:
    """Whether ``exc`` is the runner's signal that the run paused (a wait timed out) or that a
    wait was aborted: ZenML handles it itself, so it must pass user code untouched."""
    from zenml.execution.pipeline.dynamic.runner import RunPaused, _WaitConditionAborted

    return type(exc) in (RunPaused, _WaitConditionAborted)


def is_authorization_error(exc: BaseException) -> bool:
    """Whether ``exc`` is exactly ZenML's authorization error (as raised when a service
    connector's credentials fail verification), not one of its subclasses."""
    from zenml.exceptions import AuthorizationException

    return type(exc) is AuthorizationException
