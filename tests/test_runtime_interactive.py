"""Flows defined outside a file (SPEC §1.1): ``python -c``, ``python -``, an interactive
interpreter and a notebook run by a real Jupyter kernel.

Each test starts a real interpreter session (it inherits this process's private
``KITARU_CONFIG_PATH``, so both see the same store) that defines a flow with two checkpoints
and a wait, and runs it:

A. with a long wait timeout: this process answers while the session still polls, and the
   session gets the flow's result;
B. (``python -`` and the notebook) with ``timeout=0``: the run pauses; answering from this
   process is refused (nothing is recorded), then the session itself answers and the flow
   resumes there.

Afterwards replay (and, for ``python -c``, retry of a failed execution) from this process are
refused with a typed error that says why and what to do; deploying is refused in the session.
The session reports to a progress file (lines ``TAG <json>``), which works the same way for
scripts, a REPL and notebook cells.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_support import kitaru, kitaru_error

from kitaru_core import KitaruClient, KitaruStateError
from kitaru_core.models import ExecutionStatus

# Hang guards for polling, not timing targets: each is far above what a step takes.
PATIENCE = 180.0

# The session, as chunks: joined into one script, typed into a REPL, or one notebook cell each.
# Blocks end with a blank line so that an interactive interpreter accepts them too.
SESSION = [
    """import json, os, time
from kitaru_core import KitaruClient, KitaruError, checkpoint, flow, wait
""",
    """def report(tag, *values):
    with open(os.environ["KITARU_TEST_PROGRESS"], "a") as out:
        out.write(tag + " " + json.dumps(values) + "\\n")
""",
    """@checkpoint
def double(x: int) -> int:
    return 2 * x
""",
    """@checkpoint
def add(a: int, b: int) -> int:
    return a + b
""",
    """@flow
def FLOW(x: int, timeout: float) -> int:
    y = double(x)
    extra = wait(name="extra", schema=int, question="How much to add?", timeout=timeout)
    return add(y, extra)
""",
    """handle = FLOW.run(XVAL, timeout=PATIENCE)
report("RESULT", handle.exec_id, handle.wait(timeout=PATIENCE))
""",
    """try:
    FLOW.deploy(allow_local=True, x=1, timeout=0.0)
except KitaruError as exc:
    report("DEPLOY", exc.code, exc.details.get("reason"), exc.message, exc.hint)
""",
]

PAUSING = [
    """paused = FLOW.run(XVAL + 1, timeout=0)
report("PAUSED", paused.exec_id, paused.status.value)
while not os.path.exists(os.environ["KITARU_TEST_GO"]):
    time.sleep(0.1)

KitaruClient().executions.input(paused.exec_id, "extra", 1)
report("RESUMED", paused.exec_id, paused.wait(timeout=PATIENCE))
""",
]

FAILING = [
    """@checkpoint
def explode() -> int:
    raise ValueError("boom")
""",
    """@flow
def FLOW_fails() -> int:
    return explode()
""",
    """report("FAILED", FLOW_fails.run().exec_id)
""",
]


def session_chunks(flow: str, x: int, *, pausing: bool = False, failing: bool = False) -> list[str]:
    chunks = SESSION + (PAUSING if pausing else []) + (FAILING if failing else [])
    return [
        chunk.replace("FLOW", flow).replace("PATIENCE", str(PATIENCE)).replace("XVAL", str(x))
        for chunk in chunks
    ]


class Session:
    """One interpreter session and the files it talks through."""

    def __init__(self, tmp_path: Path, flow: str, x: int) -> None:
        self.flow, self.x = flow, x
        self.progress = tmp_path / "progress.txt"
        self.go = tmp_path / "go"
        self.env = {
            **os.environ,
            "KITARU_TEST_PROGRESS": str(self.progress),
            "KITARU_TEST_GO": str(self.go),
        }
        self.finished: Callable[[], bool] = lambda: False
        self.output: Callable[[], str] = lambda: ""

    def start_process(self, args: list[str], stdin: str | None = None) -> None:
        process = subprocess.Popen(
            [sys.executable, *args],
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self.env,
            text=True,
        )
        captured: list[str] = []

        def communicate() -> None:
            out, _ = process.communicate(stdin)
            captured.append(out)

        thread = threading.Thread(target=communicate, daemon=True)
        thread.start()
        self.finished = lambda: not thread.is_alive()
        self.output = lambda: "".join(captured)
        self.exit_code = lambda: process.returncode

    def expect(self, tag: str) -> list[Any]:
        """The values of the session's first ``tag`` report (waits for it)."""
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            lines = self.progress.read_text().splitlines() if self.progress.exists() else []
            for line in lines:
                if line.split(" ", 1)[0] == tag:
                    values: list[Any] = json.loads(line.split(" ", 1)[1])
                    return values
            if self.finished() and not any(line.startswith(tag) for line in lines):
                raise AssertionError(f"the session ended without {tag}:\n{self.output()}")
            time.sleep(0.1)
        raise AssertionError(f"no {tag} from the session:\n{self.output()}")

    def polled_wait(self) -> str:
        """The exec_id of the session's flow once it waits (its worker still polling)."""
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            for info in KitaruClient().executions.waiting():
                if info.flow == self.flow and info.name == "extra":
                    return info.exec_id
            if self.finished():
                raise AssertionError(f"the session ended before waiting:\n{self.output()}")
            time.sleep(0.2)
        raise AssertionError(f"{self.flow} never waited:\n{self.output()}")


def assert_not_reloadable(error: dict[str, Any], origin: str) -> None:
    assert error["code"] == "invalid_state"
    assert error["details"]["reason"] == "not_reloadable"
    assert origin in error["message"] and "not in a .py file" in error["message"]
    assert ".py file" in error["hint"]


def check_session(
    session: Session, origin: str, answer: Callable[[str, int], None], *, pausing: bool = False
) -> None:
    """Drive part A (and B when ``pausing``) of the session; check what others may do."""
    client = KitaruClient()
    # A: answered from this process while the session's flow still polls.
    exec_a = session.polled_wait()
    answer(exec_a, 4)
    assert session.expect("RESULT") == [exec_a, 2 * session.x + 4]
    done = client.executions.get(exec_a)
    assert done.status == ExecutionStatus.COMPLETED
    assert [call.call_id for call in done.checkpoints] == ["double", "add"]

    # Replay runs in a worker process: refused (its dry-run plan is still shown).
    plan = client.executions.replay(exec_a, from_="add", dry_run=True)
    assert plan.reused == ["double"]  # type: ignore[union-attr]
    assert_not_reloadable(
        kitaru_error("executions", "replay", exec_a, "--from", "add", code=1), origin
    )
    code, reason, message, hint = session.expect("DEPLOY")
    assert (code, reason) == ("invalid_state", "not_reloadable")
    assert origin in message and ".py file" in hint
    if pausing:
        check_paused_part(session, origin)


def check_paused_part(session: Session, origin: str) -> None:
    """B: a paused run; no other process can continue it, and refusing records nothing."""
    client = KitaruClient()
    exec_b, status = session.expect("PAUSED")
    assert status == "waiting"
    with pytest.raises(KitaruStateError) as refused:
        client.executions.input(exec_b, "extra", 1)
    assert_not_reloadable(refused.value.to_dict(), origin)
    assert "session that started it" in refused.value.hint
    still = client.executions.get(exec_b)
    assert still.status == ExecutionStatus.WAITING
    assert still.pending_wait is not None and still.pending_wait.name == "extra"
    session.go.write_text("go")
    assert session.expect("RESUMED") == [exec_b, 2 * (session.x + 1) + 1]
    assert client.executions.get(exec_b).status == ExecutionStatus.COMPLETED


# Each test takes the ``zenml_client`` fixture so that this process's store exists (migrated)
# before the session starts: two processes must not create the same SQLite store at once.


def answer_with_client(exec_id: str, value: int) -> None:
    KitaruClient().executions.input(exec_id, "extra", value)


def answer_with_cli(exec_id: str, value: int) -> None:
    """``kitaru executions input`` (the real CLI, through its runner in this process)."""
    kitaru("executions", "input", exec_id, "--wait", "extra", "--value", str(value))


def finish(session: Session) -> None:
    deadline = time.monotonic() + PATIENCE
    while not session.finished() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert session.finished(), session.output()


def test_python_c(tmp_path: Path, zenml_client: Any) -> None:
    session = Session(tmp_path, "interactive_c", 10)
    code = "\n".join(session_chunks(session.flow, session.x, failing=True))
    session.start_process(["-c", code])
    check_session(session, "`python -c`", answer_with_cli)
    (failed_id,) = session.expect("FAILED")
    assert KitaruClient().executions.get(failed_id).status == ExecutionStatus.FAILED
    with pytest.raises(KitaruStateError) as refused:
        KitaruClient().executions.retry(failed_id)
    assert_not_reloadable(refused.value.to_dict(), "`python -c`")
    finish(session)
    assert session.exit_code() == 0, session.output()


def test_python_stdin(tmp_path: Path, zenml_client: Any) -> None:
    session = Session(tmp_path, "interactive_stdin", 20)
    chunks = session_chunks(session.flow, session.x, pausing=True)
    session.start_process(["-"], stdin="\n".join(chunks))
    check_session(session, "stdin", answer_with_client, pausing=True)
    finish(session)
    assert session.exit_code() == 0, session.output()


def test_interactive_interpreter(tmp_path: Path, zenml_client: Any) -> None:
    """``python -i`` reading from a pipe: the real REPL loop (prompts, one statement at a
    time, ``sys.ps1`` set), without a terminal."""
    session = Session(tmp_path, "interactive_repl", 30)
    typed = "\n".join(session_chunks(session.flow, session.x)) + "\nimport sys; print(sys.ps1)\n"
    session.start_process(["-i"], stdin=typed)
    check_session(session, "an interactive Python session", answer_with_client)
    finish(session)
    assert ">>>" in session.output()  # it really was the interactive loop
    assert "Traceback" not in session.output(), session.output()


def test_notebook_in_a_real_kernel(tmp_path: Path, zenml_client: Any) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    session = Session(tmp_path, "interactive_notebook", 40)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(chunk)
        for chunk in session_chunks(session.flow, session.x, pausing=True)
    ]
    # The kernel inherits this environment; "python3" runs this interpreter (jupyter_client
    # swaps a kernelspec's bare ``python`` for sys.executable).
    os.environ.update(
        KITARU_TEST_PROGRESS=session.env["KITARU_TEST_PROGRESS"],
        KITARU_TEST_GO=session.env["KITARU_TEST_GO"],
    )
    client = nbclient.NotebookClient(
        notebook, kernel_name="python3", timeout=int(PATIENCE), resources={}
    )
    errors: list[BaseException] = []

    def execute() -> None:
        try:
            client.execute(cwd=str(tmp_path))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=execute, daemon=True)
    thread.start()
    session.finished = lambda: not thread.is_alive()
    session.output = lambda: "\n".join(str(error) for error in errors)
    try:
        check_session(session, "a Jupyter notebook", answer_with_client, pausing=True)
        finish(session)
    finally:
        for name in ("KITARU_TEST_PROGRESS", "KITARU_TEST_GO"):
            os.environ.pop(name, None)
    assert not errors, errors
