"""Concurrent first use of a fresh config dir: eight processes at once all open the store.

Without the first-use lock, processes racing to create and migrate the SQLite store failed with
ZenML's "never been migrated with alembic" (``backend_error``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import kitaru_executable

from kitaru_core.backend.first_use import LOCK_FILE, MARKER_FILE, FirstUseGuard

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX-only")


def test_eight_processes_on_a_fresh_config_dir_all_succeed(tmp_path: Path) -> None:
    config = tmp_path / "config"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KITARU_", "ZENML_"))}
    env["KITARU_CONFIG_PATH"] = str(config)
    processes = [
        subprocess.Popen(
            [*kitaru_executable(), "executions", "list", "-o", "json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    results = [(p.wait(timeout=600), *p.communicate()) for p in processes]
    for code, stdout, stderr in results:
        assert code == 0, stderr
        listed = json.loads(stdout)
        assert listed["items"] == [] and listed["count"] == 0
    assert (config / MARKER_FILE).is_file()


def test_a_ready_store_takes_no_lock(tmp_path: Path) -> None:
    with FirstUseGuard("0.98.0", tmp_path) as guard:
        assert guard.locked and not guard.is_ready()
        guard.mark_ready()
        assert not guard.locked
    assert (tmp_path / LOCK_FILE).exists()
    with FirstUseGuard("0.98.0", tmp_path) as warm:
        assert warm.is_ready() and not warm.locked


def test_a_new_zenml_version_takes_the_locked_path_again(tmp_path: Path) -> None:
    (tmp_path / MARKER_FILE).write_text("0.97.0")
    with FirstUseGuard("0.98.0", tmp_path) as guard:
        assert guard.locked
        guard.mark_ready()
    assert (tmp_path / MARKER_FILE).read_text() == "0.98.0"


def test_a_failed_first_open_releases_the_lock_and_marks_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), FirstUseGuard("0.98.0", tmp_path) as guard:
        assert guard.locked
        raise RuntimeError("the store could not be created")
    assert not guard.locked
    assert not (tmp_path / MARKER_FILE).exists()
    # The lock is free again: another guard gets it at once.
    with FirstUseGuard("0.98.0", tmp_path) as again:
        assert again.locked
