"""The detached worker: runs one job (start, resume, …) of an execution in its own process.

The parent sends a job (``kitaru_core.jobs``, as JSON) on stdin and reads one JSON line from
the report pipe: either ``{"exec_id": ...}`` as soon as the flow body starts, or
``{"error": {...}}`` when the job could not start. Everything the flow prints goes to the
worker's log file.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from kitaru_core.errors import KitaruError, translate_exception
from kitaru_core.jobs import Job, RerunJob, ResumeJob, RunJob, parse_job


class Reporter:
    """Sends the one line that tells the caller the job started (or why it did not)."""

    def __init__(
        self,
        fd: int,
        *,
        tag: dict[str, Any] | None = None,
        after_send: Callable[[], None] | None = None,
    ) -> None:
        self.fd = fd
        self.tag = tag or {}
        self.after_send = after_send
        self.sent = False

    def send(self, payload: dict[str, Any]) -> None:
        if self.sent or self.fd < 0:
            return
        self.sent = True
        with contextlib.suppress(OSError):
            os.write(self.fd, (json.dumps({**self.tag, **payload}) + "\n").encode())
            if not self.tag:  # a spawned worker's own pipe; pool children share the pool's
                os.close(self.fd)
        if self.after_send is not None:
            self.after_send()


def report_started(reporter: Reporter, flow: str | None = None) -> None:
    """Report the exec_id as soon as a flow body starts, with what the caller would otherwise
    read back from the store: the run is ``running`` at that point (ZenML sets it just before
    calling the body), and the flow's name when this job knows it."""
    from kitaru_core.models import ExecutionStatus
    from kitaru_core.runtime import launcher

    def started(exec_id: str) -> None:
        payload = {"exec_id": exec_id, "status": ExecutionStatus.RUNNING.value}
        reporter.send(payload if flow is None else {**payload, "flow": flow})

    launcher.started_listeners.append(started)


def run_job(job: Job, reporter: Reporter) -> None:
    if isinstance(job, RunJob):
        _run(job, reporter)
    elif isinstance(job, ResumeJob):
        _resume(job, reporter)
    else:
        _rerun(job, reporter)


def _run(job: RunJob, reporter: Reporter) -> None:
    from kitaru_core.config.resolver import ExecutionOverrides
    from kitaru_core.runtime import launcher
    from kitaru_core.runtime.loader import load_flow

    flow, _ = load_flow(job.target)
    report_started(reporter, flow.name)
    overrides = ExecutionOverrides.build(stack=job.stack, image=job.image, source="run")
    launcher.launch(flow, flow.bind_inputs((), job.inputs), overrides, extra=job.extra)


def _resume(job: ResumeJob, reporter: Reporter) -> None:
    # Reported before anything imports ZenML (seconds): the caller — a CLI answering a
    # wait — only needs to know that this process took the job over.
    reporter.send({"exec_id": job.exec_id})
    from kitaru_core.backend.control import resume_in_process
    from kitaru_core.runtime.heartbeat import Heartbeat

    # Mark this process as the runner before the run leaves RESUMING, so that no reader
    # mistakes the gap before the flow body starts for a crash.
    heartbeat = Heartbeat(job.exec_id)
    try:
        resume_in_process(job.exec_id)
    finally:
        heartbeat.stop()


def _rerun(job: RerunJob, reporter: Reporter) -> None:
    from kitaru_core.backend.replay import run_again

    report_started(reporter)
    run_again(
        job.exec_id,
        skip=list(job.skip),
        overrides=dict(job.overrides),
        flow_inputs=dict(job.flow_inputs),
        live=job.live,
        replay_from=job.replay_from,
    )


def run_job_safely(job: Job, reporter: Reporter) -> bool:
    """Run ``job``; whatever happens, the caller gets its one report line. True if it ran."""
    try:
        run_job(job, reporter)
        return True
    except BaseException as exc:
        error = translate_exception(exc)
        reporter.send({"error": error.to_dict(portable=True)})
        print(f"[kitaru] worker stopped: {error.code}: {error.message}", file=sys.stderr)
        return False
    finally:
        reporter.send({"error": {"code": "not_started", "message": "The flow did not start."}})


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    reporter = Reporter(int(args[0]) if args else -1)
    try:
        job = parse_job(sys.stdin.read())
        if job.cwd:
            os.chdir(job.cwd)
    except (KitaruError, OSError) as exc:
        reporter.send({"error": translate_exception(exc).to_dict(portable=True)})
        return 1
    from kitaru_core.backend.zenml_compat.store_internals import keep_global_config_unwritten

    keep_global_config_unwritten()  # the user's settings are not a worker's to write back
    return 0 if run_job_safely(job, reporter) else 1


if __name__ == "__main__":
    sys.exit(main())
