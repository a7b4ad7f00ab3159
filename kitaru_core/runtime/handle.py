"""``FlowHandle``: follow one execution and get its result."""

from __future__ import annotations

import time
from typing import Any

from kitaru_core.errors import KitaruExecutionError, KitaruTimeoutError
from kitaru_core.models import ExecutionStatus


class FlowHandle:
    """A started execution: its ``exec_id``, its live ``status`` and ``wait()`` for its result."""

    def __init__(self, exec_id: str) -> None:
        self.exec_id = exec_id

    def __repr__(self) -> str:
        return f"FlowHandle(exec_id={self.exec_id!r})"

    @property
    def status(self) -> ExecutionStatus:
        return self._state()[0]

    def _state(self) -> tuple[ExecutionStatus, dict[str, Any]]:
        """The public status and the result record (a crashed execution reads failed)."""
        from kitaru_core.backend.store import execution_store

        return execution_store().run_state(self.exec_id)

    def wait(self, timeout: float | None = None, *, poll_interval: float = 0.2) -> Any:
        """Block until the execution finishes; return its result or raise why it did not.

        A ``waiting`` execution finishes only once someone answers its wait, so without a
        ``timeout`` this call blocks until then — in a script that must not hang, pass one::

            handle = my_flow.run()
            try:
                result = handle.wait(timeout=30)
            except KitaruTimeoutError:
                ...  # still waiting: answer it (`kitaru executions input ...`), then
                result = handle.wait()  # wait again, now that it continues

        Raises :class:`KitaruTimeoutError` after ``timeout`` seconds (the execution goes on),
        :class:`KitaruExecutionError` if it failed or was cancelled, and
        :class:`KitaruNotFoundError` if ``exec_id`` names no execution.
        """
        from kitaru_core.backend.runs import load_result
        from kitaru_core.backend.store import execution_store

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status, record = self._state()
            if status == ExecutionStatus.COMPLETED:
                if record.get("inline"):
                    return record.get("preview")  # a small JSON result is stored inline
                return load_result(self.exec_id)
            if status in (ExecutionStatus.FAILED, ExecutionStatus.CANCELLED):
                failure = execution_store().failure(self.exec_id)
                verb = "failed" if status == ExecutionStatus.FAILED else "was cancelled"
                where = (
                    f" in checkpoint '{failure.checkpoint}'"
                    if failure and failure.checkpoint
                    else ""
                )
                what = (
                    f": {failure.exception_type or 'Error'}: {failure.message}" if failure else ""
                )
                raise KitaruExecutionError(
                    f"Execution {self.exec_id} {verb}{where}{what}",
                    exec_id=self.exec_id,
                    failure=failure.model_dump(mode="json") if failure else None,
                )
            if deadline is not None and time.monotonic() >= deadline:
                raise KitaruTimeoutError(
                    f"Execution {self.exec_id} is still {status.value} after {timeout} s.",
                    details={"exec_id": self.exec_id, "status": status.value},
                )
            time.sleep(poll_interval)
