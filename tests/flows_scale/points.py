"""Marker files and one-shot crash switches for the scale flow.

A marker file ``<salt>.step<N>.marks`` gets one ``start`` line when checkpoint N's body begins
and one ``end`` line just before it returns. Every execution gets its own salt, so the files
show, per execution and checkpoint, how often each body really ran — also across a retry,
which reuses the salt.

A crash switch is a file ``crash-<point>`` in the work dir. The code at that point removes it
and kills its own process with SIGKILL. Removing the file first makes the switch fire once:
the retry that follows goes past the same point.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def marker(workdir: str, salt: str, index: int) -> Path:
    return Path(workdir) / f"{salt}.step{index}.marks"


def mark(workdir: str, salt: str, index: int, line: str) -> None:
    with marker(workdir, salt, index).open("a", encoding="utf-8") as stream:
        stream.write(line + "\n")


def marks(workdir: str, salt: str, index: int) -> list[str]:
    path = marker(workdir, salt, index)
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def arm(workdir: str, point: str, value: str = "") -> None:
    """Make the process that next passes ``point`` kill itself."""
    (Path(workdir) / f"crash-{point}").write_text(value, encoding="utf-8")


def armed(workdir: str, point: str) -> bool:
    return (Path(workdir) / f"crash-{point}").exists()


def crash_if_armed(workdir: str, point: str) -> None:
    """SIGKILL this process if the switch for ``point`` is set (once)."""
    try:
        os.unlink(Path(workdir) / f"crash-{point}")
    except FileNotFoundError:
        return
    os.kill(os.getpid(), signal.SIGKILL)


def hold(workdir: str, point: str) -> None:
    """Make the process that next reaches ``point`` wait there until :func:`release`."""
    (Path(workdir) / f"hold-{point}").touch()


def release(workdir: str, point: str) -> None:
    (Path(workdir) / f"hold-{point}").unlink(missing_ok=True)


def wait_while_held(workdir: str, point: str) -> None:
    path = Path(workdir) / f"hold-{point}"
    while path.exists():
        time.sleep(0.05)
