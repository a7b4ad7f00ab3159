"""A warm process that forks detached workers, so an execution starts in a fraction of a second.

Starting a worker from scratch means importing ZenML and opening the store — seconds. A
long-lived caller (the MCP server) starts one zygote early; the zygote does that work once,
stays single-threaded, and forks a child per job. The child becomes its own session (it survives
the caller), re-opens its own database connections and runs the job exactly like a spawned
worker. Each child reports ``{"job": id, "exec_id": ...}`` or ``{"job": id, "error": ...}`` as one
line on the zygote's stdout (lines under the pipe's atomic size, so they never interleave).
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

from kitaru_core.jobs import Job, PoolRequest, RunJob, parse_pool_request

# Kitaru's own modules a worker imports lazily on its way to the flow body (found by comparing
# ``sys.modules`` in a worker before and after a run starts; ZenML's are listed in
# ``backend.zenml_compat.warmup``). Imported once here, every fork gets them for free; a fresh
# fork would otherwise spend ~0.1 s on them per execution.
_RUN_PATH_MODULES = (
    "kitaru_core.backend.run_writes",
    "kitaru_core.backend.source_root",
    "kitaru_core.backend.stack_lookup",
    "kitaru_core.backend.status",
    "kitaru_core.models",
    "kitaru_core.runtime.checkpoint",
    "kitaru_core.runtime.handle",
    "pydantic.root_model",
)


def _warm() -> None:
    """Do once here what every worker would otherwise do on its first run."""
    import importlib

    from zenml import models
    from zenml.integrations.registry import integration_registry
    from zenml.utils.code_repository_utils import find_active_code_repository

    from kitaru_core.backend.bootstrap import zenml_client
    from kitaru_core.backend.zenml_compat import store_internals, warmup
    from kitaru_core.runtime import launcher, loader, worker  # noqa: F401 - imported to warm

    client = zenml_client()
    # The workers forked from here must not write back the configuration read now.
    store_internals.keep_global_config_unwritten()
    _ = client.active_stack  # imports the stack's component flavors
    warmup.capture_run_environment()  # the installed-packages list, cached per process
    integration_registry.activate_integrations()
    find_active_code_repository()
    for response in (
        models.PipelineRunResponse,
        models.PipelineSnapshotResponse,
        models.StepRunResponse,
        models.ArtifactVersionResponse,
    ):
        response.model_rebuild()  # pydantic builds these lazily, on first use
    for name in _RUN_PATH_MODULES:
        importlib.import_module(name)
    # Only a head start: a ZenML module a newer release moved is simply imported later.
    warmup.import_run_path()


# ``llm(`` called, or ``llm`` imported, in a flow's module: its worker will want LiteLLM.
_USES_LLM = re.compile(rb"\bllm\s*\(|import[^\n]*\bllm\b")


def uses_llm(job: Job) -> bool:
    """Whether the module of a ``run`` job's flow references ``llm`` (read, not imported)."""
    from kitaru_core.runtime.loader import is_file_target, split_target

    if not isinstance(job, RunJob):
        return False
    try:
        module_part, _ = split_target(job.target)
        if is_file_target(module_part):
            path = Path(job.cwd or ".", module_part).expanduser()
        else:
            spec = importlib.util.find_spec(module_part)
            path = Path(spec.origin) if spec and spec.origin else Path()
        return bool(_USES_LLM.search(path.read_bytes()))
    except Exception:  # a target that cannot be read fails later, with the run's own error
        return False


def prefetch_litellm() -> None:
    """Import LiteLLM in a background thread (its import takes seconds): the flow's first
    ``llm()`` call then finds it loaded, or waits only for the rest of the import."""
    import threading

    from kitaru_core.runtime.llm import load_litellm

    def load() -> None:
        with contextlib.suppress(Exception):  # llm() reports a missing LiteLLM itself
            load_litellm()

    threading.Thread(target=load, name="kitaru-litellm", daemon=True).start()


def _freeze_heap() -> None:
    """Exclude the warm heap from garbage collection in every worker.

    A forked worker's first full collection would walk every object the zygote created
    (ZenML, SQLAlchemy, pydantic: hundreds of thousands), writing to each one's header — a
    ~0.25 s pause, plus a copy of every page it touches. Frozen objects are never scanned, so
    the worker's collections only see what the worker itself allocates. They are long-lived
    module state anyway; a frozen object is just never freed by the cycle collector.
    """
    gc.collect()
    gc.freeze()


def _child(request: PoolRequest, out_fd: int) -> None:
    """Runs in the forked child: detach, fresh connections, run the job, never return."""
    code = 1
    try:
        # The zygote reaps its children in a SIGCHLD handler; a worker must not inherit that,
        # or `subprocess.run` in a user's checkpoint could not wait for its own child.
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
        os.setsid()
        from kitaru_core.backend.bootstrap import zenml_client
        from kitaru_core.backend.zenml_compat.database import forget_pooled_connections
        from kitaru_core.runtime.worker import Reporter, run_job_safely

        # The parent's pooled connections are not ours to use.
        forget_pooled_connections(zenml_client().zen_store)
        job = request.job
        log_fd = os.open(request.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        if job.cwd:
            os.chdir(job.cwd)
        # No cycle collection until the caller has its exec_id: the few hundred milliseconds
        # of run creation leave cyclic garbage that can wait, and the collections would
        # otherwise run while the caller waits. Collection resumes right after the report.
        gc.disable()
        if "litellm" not in sys.modules and uses_llm(job):
            prefetch_litellm()
        reporter = Reporter(out_fd, tag={"job": request.job_id}, after_send=gc.enable)
        code = 0 if run_job_safely(job, reporter) else 1
    finally:
        os._exit(code)


class _Reaper:
    """Reaps finished workers and reports each exit on the report pipe (``{"job", "exited"}``).

    A worker that dies before it reports (killed, out of memory, ``os._exit`` in user code at
    import) would otherwise leave its caller waiting for the whole start timeout; the exit
    line tells it at once. The caller ignores the line for a job that already reported.
    """

    def __init__(self, out_fd: int) -> None:
        self.out_fd = out_fd
        self.jobs: dict[int, str] = {}

    def fork(self, request: PoolRequest) -> None:
        # SIGCHLD is held until the child's pid is recorded, so a child that exits at once is
        # still reported under its job.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        try:
            pid = os.fork()
            if pid == 0:
                _child(request, self.out_fd)
            self.jobs[pid] = request.job_id
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})

    def reap(self, signum: int = 0, frame: Any = None) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            job_id = self.jobs.pop(pid, None)
            if job_id is not None:
                line = {"job": job_id, "exited": os.waitstatus_to_exitcode(status)}
                os.write(self.out_fd, (json.dumps(line) + "\n").encode())


def _read_request(line: str, out_fd: int) -> PoolRequest | None:
    """The request on one stdin line; a malformed one is refused on the report pipe when its
    ``job_id`` can be read (so its caller learns why at once), and skipped otherwise."""
    from kitaru_core.errors import KitaruError

    try:
        return parse_pool_request(line)
    except KitaruError as error:
        with contextlib.suppress(ValueError, AttributeError):
            job_id = json.loads(line).get("job_id")
            if isinstance(job_id, str):
                reply = {"job": job_id, "error": error.to_dict(portable=True)}
                os.write(out_fd, (json.dumps(reply) + "\n").encode())
        return None


def main() -> int:
    out_fd = os.dup(1)
    os.dup2(2, 1)  # ZenML may print; only report lines go to the real stdout
    reaper = _Reaper(out_fd)
    signal.signal(signal.SIGCHLD, reaper.reap)
    try:
        _warm()
        _freeze_heap()
        os.write(out_fd, b'{"ready": true}\n')
    except BaseException as exc:
        os.write(out_fd, (json.dumps({"ready": False, "error": str(exc)}) + "\n").encode())
        return 1
    for line in sys.stdin:
        request = _read_request(line, out_fd)
        if request is None:
            continue
        gc.freeze()  # whatever the zygote allocated since the last fork joins the frozen heap
        reaper.fork(request)
        if "litellm" not in sys.modules and uses_llm(request.job):
            # The next flow that calls llm() forks with LiteLLM loaded. Imported here, after
            # the fork and in this one thread, so no fork ever happens mid-import.
            with contextlib.suppress(Exception):
                from kitaru_core.runtime.llm import load_litellm

                load_litellm()
    return 0  # stdin closed: the caller is gone


if __name__ == "__main__":
    sys.exit(main())
