"""One process at a time creates and migrates a fresh local store.

The first open of a config dir writes ZenML's ``config.yaml`` and creates and migrates the SQLite
store. Several processes doing that at once (four ``kitaru run`` started together, an MCP
server and a CLI command) break each other: ZenML finds a half-created database and refuses it
("never been migrated with alembic"), or two migrations collide. So while the store may still be
uninitialised, opening it holds an exclusive ``flock`` on a file in the config dir.

Once a process has opened the local store, it writes a marker holding the ZenML version. A warm
open only reads that marker and takes no lock; a new ZenML version (which may migrate the
store) takes the locked path once more. The lock is released when the process dies, so a
crashed first open never blocks the next one.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import TracebackType
from typing import IO

from kitaru_core.config.paths import config_dir

try:
    import fcntl
except ImportError:  # Windows: no flock; concurrent first use stays unguarded there
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".store-init.lock"
MARKER_FILE = ".store-ready"


class FirstUseGuard:
    """Hold the first-use lock while the store may be uninitialised (a no-op once it is ready).

    ``release()`` ends the guarded section early (a server store needs no local migration);
    ``mark_ready()`` records that the local store is initialised and releases the lock.
    """

    def __init__(self, zenml_version: str, directory: Path | None = None) -> None:
        self._version = zenml_version
        self._dir = directory or config_dir()
        self._handle: IO[str] | None = None

    def is_ready(self) -> bool:
        """Whether this config dir's local store was opened by this ZenML version before."""
        try:
            return (self._dir / MARKER_FILE).read_text().strip() == self._version
        except OSError:
            return False

    def __enter__(self) -> FirstUseGuard:
        if fcntl is not None and not self.is_ready():
            self._dir.mkdir(parents=True, exist_ok=True)
            handle = (self._dir / LOCK_FILE).open("a")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # waits for the process initialising
            except BaseException:
                handle.close()
                raise
            self._handle = handle
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    @property
    def locked(self) -> bool:
        return self._handle is not None

    def release(self) -> None:
        """Let the next process in (idempotent)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()

    def mark_ready(self) -> None:
        """Record that the local store is created and migrated, then release the lock."""
        if self.locked or not self.is_ready():
            marker = self._dir / MARKER_FILE
            temporary = marker.with_name(f"{MARKER_FILE}.tmp")
            temporary.write_text(self._version)
            temporary.replace(marker)  # atomic: a reader sees the old marker or the new one
        self.release()
