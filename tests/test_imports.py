"""Import-time guarantees, checked in fresh subprocesses (this process may already hold ZenML).

- ``import kitaru_core`` and the config/errors/models modules import neither ZenML nor LiteLLM.
- ``import zenml`` runs Kitaru's ``zenml.init_hooks`` entry point (declared in pyproject.toml),
  which points ZenML at the Kitaru config dir: nothing is written under ``~/.config/zenml``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """The current environment without any Kitaru/ZenML/XDG setting, with ``HOME`` replaced."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("KITARU_", "ZENML_", "XDG_"))
    }
    env["HOME"] = str(home)
    env.update(extra)
    return env


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    return result


def test_core_modules_import_neither_zenml_nor_litellm(tmp_path: Path) -> None:
    code = (
        "import kitaru_core, kitaru_core.config.resolver, kitaru_core.errors, kitaru_core.models, "
        "kitaru_core.config.settings, kitaru_core.config.project, kitaru_core.config.zenml_env, "
        "sys; "
        "assert 'zenml' not in sys.modules and 'litellm' not in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith(('zenml', 'litellm')))[:5]; "
        "print('clean')"
    )
    result = _run(code, _isolated_env(tmp_path))
    assert result.stdout.strip() == "clean"


PROBE = (
    "import json, os, zenml; "
    "hooked = os.environ.get('ZENML_CONFIG_PATH'); "
    "from zenml.config.global_config import GlobalConfiguration; "
    "print(json.dumps({'hooked': hooked, "
    "'zenml_dir': str(GlobalConfiguration().config_directory), "
    "'analytics': os.environ.get('ZENML_ANALYTICS_OPT_IN')}))"
)


@pytest.mark.skipif(sys.platform == "win32", reason="HOME does not move the config dir there")
def test_import_zenml_uses_the_kitaru_config_path(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    config = (tmp_path / "kitaru-config").resolve()
    result = _run(PROBE, _isolated_env(home, KITARU_CONFIG_PATH=str(config)))
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["hooked"] == str(config)
    assert Path(seen["zenml_dir"]).resolve() == config
    assert seen["analytics"] == "false"
    assert not (home / ".config" / "zenml").exists()


@pytest.mark.skipif(sys.platform != "linux", reason="checks the Linux platform config dir")
def test_import_zenml_without_config_path_uses_the_kitaru_platform_dir(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    result = _run(PROBE, _isolated_env(home))
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["hooked"] == str(home / ".config" / "kitaru")
    assert Path(seen["zenml_dir"]) == home / ".config" / "kitaru"
    assert not (home / ".config" / "zenml").exists()
