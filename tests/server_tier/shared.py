"""One MariaDB server tier per test run, shared by every test module and every xdist worker.

A pytest plugin: a test module that needs the tier declares
``pytest_plugins = ["server_tier.shared"]`` and takes the ``mariadb_tier`` fixture. Starting
a ``mariadbd`` and a ZenML server costs seconds of CPU on a 2-core CI machine, so the first
process that needs the tier starts it and records where it is in a state file beside the
workers' temp dirs; the others join it. The starter keeps the daemons (they are its children)
and stops them only when every process that joined has finished with them.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from server_tier.mariadb_tier import MariaDB, ServerTier, ZenServer, server_tier

# Bounds how long the starter waits at its end for the others to finish with the tier.
RELEASE_TIMEOUT = 3600.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def _locked(root: Path) -> Iterator[Path]:
    """The state file, held under an exclusive lock (across processes) for the block."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / "tier.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        yield root / "tier.json"


def _read(state: Path) -> dict[str, Any] | None:
    return json.loads(state.read_text()) if state.exists() else None


def _write(state: Path, data: dict[str, Any]) -> None:
    state.write_text(json.dumps(data))


def _describe(tier: ServerTier) -> dict[str, Any]:
    return {
        "root": str(tier.root),
        "db": {"port": tier.db.port, "datadir": str(tier.db.datadir)},
        "server": {
            "url": tier.server.url,
            "api_key": tier.server.api_key,
            "stores_path": str(tier.server.stores_path),
        },
    }


def _rebuild(data: dict[str, Any]) -> ServerTier:
    db = MariaDB(port=data["db"]["port"], datadir=Path(data["db"]["datadir"]))
    server = ZenServer(
        url=data["server"]["url"],
        api_key=data["server"]["api_key"],
        stores_path=Path(data["server"]["stores_path"]),
    )
    return ServerTier(db=db, server=server, root=Path(data["root"]))


def _wait_for_the_others(lock_root: Path) -> None:
    """Until no other live process uses the tier (a crashed one does not hold it up)."""
    deadline = time.monotonic() + RELEASE_TIMEOUT
    while time.monotonic() < deadline:
        with _locked(lock_root) as state:
            data = _read(state)
            if data is None or not [pid for pid in data["users"] if _alive(pid)]:
                return
        time.sleep(0.5)


@contextmanager
def shared_tier(lock_root: Path, tier_root: Path) -> Iterator[ServerTier]:
    """Join the tier recorded under ``lock_root``, or start one under ``tier_root``."""
    me = os.getpid()
    with ExitStack() as owned:
        with _locked(lock_root) as state:
            data = _read(state)
            if data is None:  # nobody runs it: start it here, holding the lock meanwhile
                tier = owned.enter_context(server_tier(tier_root))
                data = {**_describe(tier), "owner": me, "users": []}
            data["users"].append(me)
            _write(state, data)
            tier = _rebuild(data)
        try:
            yield tier
        finally:
            with _locked(lock_root) as state:
                data = _read(state)
                if data is not None:
                    data["users"] = [pid for pid in data["users"] if pid != me]
                    _write(state, data)
            if data is not None and data["owner"] == me:
                _wait_for_the_others(lock_root)
                # Removed under the lock before the daemons stop: a late joiner starts anew.
                with _locked(lock_root) as state:
                    state.unlink(missing_ok=True)
                    owned.close()


@pytest.fixture(scope="session")
def mariadb_tier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerTier]:
    """The running tier: MariaDB and a ZenML server on it, shared by the whole test run."""
    base = tmp_path_factory.getbasetemp()
    # Each xdist worker's temp dir sits in the run's own temp dir, which they all share.
    lock_root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "mariadb-tier"
    with shared_tier(lock_root, tmp_path_factory.mktemp("mariadb-tier")) as tier:
        yield tier
