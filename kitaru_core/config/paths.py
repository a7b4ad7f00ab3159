"""Where Kitaru keeps its state: one config directory for settings, ZenML config and stores."""

from __future__ import annotations

import os
from pathlib import Path

SETTINGS_FILE = "kitaru.yaml"
LOCAL_STORES = "local_stores"


def config_dir() -> Path:
    """The Kitaru config directory: ``KITARU_CONFIG_PATH`` or the platform's user config dir.

    Read at every call (so a changed variable takes effect at once); never created here —
    :func:`ensure_config_dir` creates it on first write.
    """
    override = os.environ.get("KITARU_CONFIG_PATH", "").strip()
    if override:
        return Path(override).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_config_dir("kitaru", appauthor=False))


def ensure_config_dir() -> Path:
    path = config_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def settings_path() -> Path:
    return config_dir() / SETTINGS_FILE


def local_stores_dir() -> Path:
    return config_dir() / LOCAL_STORES


def runs_dir() -> Path:
    """Kitaru's own per-execution bookkeeping (worker pids, heartbeats, logs)."""
    return config_dir() / "runs"
