"""Flows defined outside a file: ``python -c``, ``python -``, a REPL, a notebook cell.

Such a flow lives only in the ``__main__`` module of the process that defined it. It runs
there, in-process, like any flow started with ``.run()``; but no other process can import it
again, so continuing the execution elsewhere (a resume worker, retry, replay, deploy) is
refused with a typed error that says why and what to do. The run records where the flow came
from under ``INTERACTIVE_KEY`` so that the refusal works from any process.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import Any

from kitaru_core.errors import KitaruStateError
from kitaru_core.hints import Hint
from kitaru_core.models import StartedExecution
from kitaru_core.naming import INTERACTIVE_KEY, flow_alias, knows_alias, user_text

_REUSE = "; resume, retry, replay and deploy then work from any process."


def _fix(flow: str) -> Hint:
    """Move the flow into a file — said with each surface's way of starting it."""
    return Hint(
        sdk="Put the flow in a .py file and start it from there (python <file.py>)" + _REUSE,
        cli=f"Put the flow in a .py file and start it with `kitaru run <file.py>:{flow}`" + _REUSE,
        mcp="Put the flow in a .py file and {tool:kitaru_executions_run|start it} "
        f"(target '<file.py>:{flow}')" + _REUSE,
    )


def origin(func: Callable[..., Any]) -> str | None:
    """Where ``func`` was defined when no other process can import it again, else ``None``.

    That is a module without a ``.py`` file behind it: ``__main__`` of ``python -c``, of code
    read from stdin, of an interactive session, or of a notebook kernel (whose ``__main__`` has
    no file, or the notebook's ``.ipynb`` path in some editors).
    """
    module = sys.modules.get(getattr(func, "__module__", "") or "")
    if module is not None and has_python_file(module):
        return None
    if "ipykernel" in sys.modules:
        return "a Jupyter notebook"
    if "IPython" in sys.modules and _ipython_active():
        return "an IPython session"
    first = sys.argv[0] if sys.argv else ""
    if first == "-c":
        return "`python -c`"
    if first == "-":
        return "code read from stdin (`python -`)"
    return "an interactive Python session"


def has_python_file(module: Any) -> bool:
    """Whether ``module`` was loaded from a ``.py`` file (``python -`` names it ``<stdin>``)."""
    file = getattr(module, "__file__", None)
    return isinstance(file, str) and Path(file).suffix == ".py" and Path(file).is_file()


def _ipython_active() -> bool:
    from IPython import get_ipython  # present: IPython is in sys.modules

    return get_ipython() is not None


def marker(where: str) -> dict[str, Any]:
    """What the run records about a flow defined outside a file (read by :func:`refusal`)."""
    return {"origin": where, "pid": os.getpid(), "host": socket.gethostname()}


def allow_flows_without_file() -> None:
    """Let ZenML run flows whose code has no file behind it (see the two functions below)."""
    _allow_main_without_file()
    allow_missing_source_code()


def _allow_main_without_file() -> None:
    """Let ZenML name objects of a file-less ``__main__`` module as ``__main__:<attribute>``.

    ZenML refuses to resolve such objects ("not loaded from a file", or "not a python file"
    for ``python -``'s ``<stdin>``) unless it thinks it runs in a notebook. The name it gives
    them in a notebook is exactly what this process needs: ZenML loads a ``__main__`` source
    from ``sys.modules['__main__']`` in the same process, and Kitaru refuses to load it in any
    other process. Only the case ZenML would reject changes.
    """
    from kitaru_core.backend.zenml_compat.source import name_main_without_file

    name_main_without_file(has_python_file)


def allow_missing_source_code() -> None:
    """Let ZenML fingerprint flows and checkpoints whose source text cannot be read.

    ZenML reads each pipeline's and step's source text (``inspect.getsource``) for its
    version hash and cache key; code typed into ``python -c``, stdin or a REPL has none. The
    fallback is a digest of the compiled code, so a changed function still misses the cache.
    Only the case ZenML would fail on changes.
    """
    from kitaru_core.backend.zenml_compat.source import fingerprint_when_source_missing

    fingerprint_when_source_missing(code_fingerprint)


def code_fingerprint(func: Any) -> str:
    """A stand-in for the source text of ``func``: its name and a digest of its compiled code
    (instructions, constants and names, not line numbers)."""
    import hashlib
    import inspect

    target = inspect.unwrap(func)
    code = getattr(target, "__code__", None)
    digest = hashlib.sha256(repr(_code_shape(code)).encode()).hexdigest()
    name = getattr(target, "__qualname__", repr(target))
    return f"# {name}: source text not available (defined outside a file)\n# code {digest}\n"


def _code_shape(code: Any) -> Any:
    if not isinstance(code, CodeType):
        return repr(code)
    consts = tuple(_code_shape(item) for item in code.co_consts)
    names = (code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars)
    return (code.co_name, code.co_code, consts, names)


def recorded_origin(extra: dict[str, Any] | None) -> dict[str, Any] | None:
    """The interactive marker in a run's ``config.extra``, if the flow was defined so."""
    value = (extra or {}).get(INTERACTIVE_KEY)
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class FileLessRun:
    """What a refusal needs to know about an execution of a flow defined outside a file."""

    flow: str
    record: dict[str, Any]
    # ZenML keeps a run RUNNING while its worker polls a wait, PAUSED once it gave up.
    paused: bool


def lookup(exec_id: str) -> FileLessRun | None:
    """The execution, when its flow was defined outside a file; else ``None``."""
    from kitaru_core.backend.runs import get_run

    run = get_run(exec_id)
    record = recorded_origin(run.config.extra)
    if record is None:
        return None
    flow = user_text(run.pipeline.name) if run.pipeline else "flow"
    return FileLessRun(flow=flow, record=record, paused=str(run.status.value) == "paused")


def defined_here(run: FileLessRun) -> bool:
    """Whether this process is the live session that defined (and can reload) the flow: same
    process on the same machine, and its ``__main__`` still knows the flow."""

    record = run.record
    if record.get("pid") != os.getpid() or record.get("host") != socket.gethostname():
        return False
    return knows_alias(sys.modules.get("__main__"), flow_alias(run.flow))


def refusal(
    exec_id: str, run: FileLessRun, action: str, *, answer: bool = False
) -> KitaruStateError:
    """The error for ``action`` (resume, retry, replay, …) on a flow no process can reload."""
    flow = run.flow
    where = run.record.get("origin") or "an interactive session"
    hint = _fix(flow)
    if answer:
        there = "While the session that started it is still open, answer the wait from there"
        hint = Hint(
            sdk=f"{there} (KitaruClient().executions.input(...)): it continues in that "
            f"session. {hint.sdk}",
            cli=f"{there}: it continues in that session. {hint.cli}",
            mcp=f"{there}: it continues in that session. {hint.mcp}",
        )
    return KitaruStateError(
        f"Execution {exec_id} cannot be {action}: its flow '{flow}' was defined in {where}, "
        "not in a .py file, and only the process that defined it can load it again.",
        hint=hint,
        details={"exec_id": exec_id, "flow": flow, "origin": where, "reason": "not_reloadable"},
    )


def refuse_deploy(flow: str, where: str) -> KitaruStateError:
    """The error for deploying a flow that was defined outside a file."""
    return KitaruStateError(
        f"Flow '{flow}' cannot be deployed: it was defined in {where}, not in a .py file, so "
        "no worker can load it again.",
        hint=_fix(flow),
        details={"flow": flow, "origin": where, "reason": "not_reloadable"},
    )


def require_reloadable(exec_id: str, action: str) -> bool:
    """Refuse ``action`` on an execution whose flow was defined outside a file (``python -c``,
    stdin, a REPL, a notebook) unless this process is the session that defined it.

    Such a flow can only be loaded from the ``__main__`` module of that session, so no worker
    process can run it again. Returns whether this process is that session.
    """
    run = lookup(exec_id)
    if run is None:
        return False
    if defined_here(run):
        return True
    raise refusal(exec_id, run, action)


def require_answerable(exec_id: str, condition: Any) -> None:
    """Take an answer for an execution whose flow was defined outside a file only where it can
    continue: in its own session, or while that session still polls the wait. Otherwise the
    answer would need a resume no other process can do, so it is refused and not recorded."""
    from kitaru_core.backend import waits

    run = lookup(exec_id)
    if run is None or defined_here(run):
        return
    if not run.paused and waits.has_active_poller(condition):
        return
    raise refusal(exec_id, run, "continued from this process", answer=True)


def resume_without_file(exec_id: str) -> StartedExecution | None:
    """Resume a paused execution of a flow defined outside a file, in this process (the
    session that defined it; it blocks until the flow finishes or waits again). ``None`` for
    a flow from a file (a worker resumes it); a typed refusal from any other process."""
    from kitaru_core.backend.control import resume_in_process

    if not require_reloadable(exec_id, "resumed"):
        return None
    return StartedExecution(exec_id=exec_id, status=resume_in_process(exec_id))
