"""The warm pool starts importing LiteLLM for flows whose module uses ``llm()``.

``uses_llm`` reads the flow's source without importing it; ``prefetch_litellm`` loads LiteLLM
in the background, so the flow's first ``llm()`` call does not pay for the whole import.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from kitaru_core.jobs import ResumeJob, RunJob
from kitaru_core.runtime.zygote import uses_llm


def _job(folder: Path, source: str) -> RunJob:
    (folder / "agent.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return RunJob(target="agent.py:agent", cwd=str(folder))


def test_uses_llm_reads_the_flow_module(tmp_path: Path) -> None:
    calls = _job(tmp_path, "from kitaru_core import flow, llm\n@flow\ndef agent(): return 1\n")
    assert uses_llm(calls)
    direct = _job(tmp_path, "import kitaru_core\ndef agent(): return kitaru_core.llm ('hi')\n")
    assert uses_llm(direct)
    plain = _job(tmp_path, "from kitaru_core import flow\n@flow\ndef agent(): return 'llmish'\n")
    assert not uses_llm(plain)
    assert not uses_llm(RunJob(target="missing.py:agent", cwd=str(tmp_path)))
    assert not uses_llm(RunJob(target="not a target"))
    assert not uses_llm(ResumeJob(exec_id="e1"))  # only a run job names a flow module
    module = RunJob(target="kitaru_core.runtime.llm:llm")
    assert uses_llm(module)  # a module target is found on the path, not imported


def test_prefetch_loads_litellm_in_the_background() -> None:
    script = (
        "import sys, threading\n"
        "from kitaru_core.runtime import zygote\n"
        "zygote.prefetch_litellm()\n"
        "[t.join() for t in threading.enumerate() if t.name == 'kitaru-litellm']\n"
        "from kitaru_core.runtime import llm\n"
        "print('litellm' in sys.modules, llm._litellm is not None)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True"]
