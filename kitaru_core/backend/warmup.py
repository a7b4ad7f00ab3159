"""What the surfaces ask about the engine in their own process: is it loaded, open it ahead of
the first call, keep its logging off stdout.

Cheap to import (no ZenML, no bootstrap at module level): the CLI asks :func:`engine_loaded`
on its way out of every command, ``kitaru --help`` included.
"""

from __future__ import annotations

import sys

_ENGINE_PACKAGE = "zenml"


def engine_loaded() -> bool:
    """Whether this process has imported ZenML (so its teardown would be slow)."""
    return _ENGINE_PACKAGE in sys.modules


def quiet_engine_logging(root_level: int) -> None:
    """Once the store is open in this process (now, if it already is), drop the console handler
    ``import zenml`` adds to the root logger — it writes to stdout — and put the root level back
    to ``root_level`` (ZenML raises it to INFO). The handler that records flow logs stays."""
    from kitaru_core.backend import bootstrap

    bootstrap.when_opened(lambda: _tidy_logging(root_level))


def open_engine() -> None:
    """Open the store's client now, and import what the first stack call needs, so that the
    first call does not pay for either."""
    from kitaru_core.backend import bootstrap

    bootstrap.zenml_client()
    import kitaru_core.backend.stacks  # noqa: F401


def _tidy_logging(root_level: int) -> None:
    import logging  # here, not above: ``kitaru --help`` imports this module

    from kitaru_core.backend.zenml_compat.console import is_zenml_console_handler

    root = logging.getLogger()
    for handler in root.handlers[:]:
        if is_zenml_console_handler(handler):
            root.removeHandler(handler)
    root.setLevel(root_level)
