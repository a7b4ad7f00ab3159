"""The heartbeat of the process that runs an execution (its liveness record, refreshed)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time

from kitaru_core.liveness import write

HEARTBEAT_INTERVAL = 5.0


class Heartbeat:
    """Marks this process as the runner of ``exec_id`` until :meth:`stop`."""

    def __init__(self, exec_id: str) -> None:
        self.exec_id = exec_id
        self._stop = threading.Event()
        self._record = {
            "exec_id": exec_id,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.time(),
            "heartbeat": time.time(),
        }
        write(exec_id, self._record)
        self._thread = threading.Thread(target=self._beat, name="kitaru-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_INTERVAL):
            self._record["heartbeat"] = time.time()
            with contextlib.suppress(OSError):
                write(self.exec_id, self._record)

    def stop(self) -> None:
        self._stop.set()
        self._record["heartbeat"] = time.time()
        self._record["finished"] = True
        with contextlib.suppress(OSError):
            write(self.exec_id, self._record)
