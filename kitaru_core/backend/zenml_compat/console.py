"""ZenML's logging set-up.

ZenML name used: ``zenml.logger.ZenMLConsoleHandler`` (the root-logger handler ``import zenml``
adds, which writes to stdout).
"""

from __future__ import annotations

import logging


def is_zenml_console_handler(handler: logging.Handler) -> bool:
    """Whether ``handler`` is exactly the console handler ``import zenml`` installs."""
    from zenml.logger import ZenMLConsoleHandler

    return type(handler) is ZenMLConsoleHandler
