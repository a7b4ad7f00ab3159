"""How ZenML names and fingerprints the code of flows: two patches for code without a file.

ZenML names used: ``zenml.utils.source_utils._resolve_module`` (patched), and the
``source_code`` properties of ``zenml.pipelines.pipeline_definition.Pipeline`` and
``zenml.steps.base_step.BaseStep`` (patched; they read ``source_object``). Each patch is
installed once per process and marked, so calling again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

_PATCHED = "__kitaru_patched__"


def name_main_without_file(has_file: Callable[[ModuleType], bool]) -> None:
    """Make ZenML name objects of a ``__main__`` module for which ``has_file`` is false as
    ``__main__:<attribute>`` (what it does in a notebook) instead of refusing them; every other
    module resolves as before."""
    from zenml.utils import source_utils

    original = source_utils._resolve_module
    if getattr(original, _PATCHED, False):
        return

    def resolve_module(module: ModuleType) -> str:
        if module.__name__ == "__main__" and not has_file(module):
            return "__main__"
        return str(original(module))

    setattr(resolve_module, _PATCHED, True)
    source_utils._resolve_module = resolve_module


def fingerprint_when_source_missing(fingerprint: Callable[[Any], str]) -> None:
    """Make pipelines and steps whose source text cannot be read (``inspect.getsource`` fails
    with ``OSError`` or ``TypeError``) use ``fingerprint(function)`` as their source text."""
    from zenml.pipelines.pipeline_definition import Pipeline
    from zenml.steps.base_step import BaseStep

    for cls in (Pipeline, BaseStep):
        original = cls.__dict__["source_code"]
        if getattr(original.fget, _PATCHED, False):
            continue
        patched = property(_with_fallback(original.fget, fingerprint))
        cls.source_code = patched  # type: ignore[method-assign,assignment]


def _with_fallback(
    read: Callable[[Any], str], fingerprint: Callable[[Any], str]
) -> Callable[[Any], str]:
    def source_code(self: Any) -> str:
        try:
            return read(self)
        except (OSError, TypeError):
            return fingerprint(self.source_object)

    setattr(source_code, _PATCHED, True)
    return source_code
