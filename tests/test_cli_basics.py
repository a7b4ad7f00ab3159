"""The CLI's contract: fast help without ZenML, exit codes, the JSON error body, input parsing,
the generated reference (docs/cli.md), and ``init`` / ``status`` / ``info``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from cli_support import (
    ERROR_KEYS,
    TESTS_DIR,
    kitaru,
    kitaru_error,
    kitaru_json,
    run_process,
)

from kitaru_core import __version__
from kitaru_core.cli.core import parse_answer_option, parse_assignment, parse_json_option
from kitaru_core.errors import KitaruUsageError, KitaruValidationError

REPO_ROOT = TESTS_DIR.parent


def _command_paths() -> list[list[str]]:
    """Every command of the tree, as argv prefixes (``[]`` is the root)."""
    from kitaru_core.cli.main import cli

    paths: list[list[str]] = []

    def walk(command: click.Command, path: list[str]) -> None:
        paths.append(path)
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])

    walk(cli, [])
    return paths


def test_the_command_tree_is_the_one_of_the_spec() -> None:
    names = {" ".join(path) for path in _command_paths()}
    expected = {
        "init",
        "status",
        "info",
        "run",
        "deploy",
        "invoke",
        *(f"stack {c}" for c in ("list", "current", "show", "use", "create", "delete")),
        *(
            f"executions {c}"
            for c in (
                "list",
                "get",
                "latest",
                "logs",
                "waiting",
                "input",
                "abort-wait",
                "resume",
                "retry",
                "replay",
                "cancel",
            )
        ),
        "artifacts list",
        "artifacts get",
        *(f"flow deployments {c}" for c in ("list", "get", "delete", "curl")),
        "flow tag",
        "flow untag",
    }
    assert expected <= names


def test_every_help_is_served_without_importing_zenml(tmp_path: Path) -> None:
    """All --help pages in one fresh process; neither ZenML nor LiteLLM gets imported."""
    paths = _command_paths()
    code = (
        "import sys, io, contextlib\n"
        "from kitaru_core.cli.main import run\n"
        f"paths = {paths!r}\n"
        "for path in paths:\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out):\n"
        "        rc = run([*path, '--help'])\n"
        "    assert rc == 0 and 'Usage:' in out.getvalue(), (path, rc, out.getvalue())\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('zenml', 'litellm'))\n"
        "assert not heavy, heavy[:5]\n"
        "print(len(paths))\n"
    )
    env = {**os.environ, "KITARU_CONFIG_PATH": str(tmp_path / "config")}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) == len(paths)
    assert not (tmp_path / "config").exists()  # help touches no state


def test_console_script_help_and_version() -> None:
    result = run_process("--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: kitaru" in result.stdout
    for group in ("stack", "executions", "flow", "deploy", "invoke", "run"):
        assert group in result.stdout
    version = run_process("--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"kitaru {__version__}"


def test_click_usage_errors_exit_2_with_one_json_error() -> None:
    error = kitaru_error("executions", "list", "--bogus", code=2)
    assert error["code"] == "usage_error"
    assert "--bogus" in error["message"]
    assert "kitaru executions list --help" in error["hint"]
    missing = kitaru_error("stack", "use", code=2)
    assert "NAME_OR_ID" in missing["message"]
    # Table mode: a message and a hint on stderr, nothing on stdout.
    result = kitaru("nosuchcommand", code=2)
    assert result.stdout == ""
    assert "Error: No such command 'nosuchcommand'" in result.stderr
    assert "Hint:" in result.stderr


def test_json_output_can_be_asked_for_on_the_root_group_too() -> None:
    from click.testing import CliRunner

    from kitaru_core.cli.main import cli

    result = CliRunner().invoke(cli, ["-o", "json", "executions", "get", "not-a-uuid"])
    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"]["code"] == "not_found"


def test_real_process_keeps_stdout_pure_json_and_stderr_one_error_object() -> None:
    listed = run_process("stack", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    payload = json.loads(listed.stdout)
    assert payload["count"] == len(payload["items"]) >= 1
    assert listed.stderr == ""
    failed = run_process("executions", "get", "00000000-0000-0000-0000-000000000000", "-o", "json")
    assert failed.returncode == 1
    assert failed.stdout == ""
    body = json.loads(failed.stderr)
    assert set(body["error"]) == ERROR_KEYS
    assert body["error"]["code"] == "not_found"


# ------------------------------------------------------------------------------ input parsing


def test_json_options_take_json_or_a_file(tmp_path: Path) -> None:
    assert parse_json_option('{"topic": "agents"}', option="--input") == {"topic": "agents"}
    file = tmp_path / "inputs.json"
    file.write_text('{"topic": "from a file"}', encoding="utf-8")
    assert parse_json_option(f"@{file}", option="--input") == {"topic": "from a file"}
    with pytest.raises(KitaruValidationError) as bad:
        parse_json_option("{topic: agents}", option="--input")
    assert "--input is not valid JSON" in bad.value.message
    assert bad.value.fields == {"--input": "must be JSON, or @path to a file holding JSON"}
    with pytest.raises(KitaruUsageError) as missing:
        parse_json_option(f"@{tmp_path / 'nope.json'}", option="--input")
    assert "could not be read" in missing.value.message


def test_wait_answers_accept_json_files_and_bare_words(tmp_path: Path) -> None:
    assert parse_answer_option("true") is True
    assert parse_answer_option("3") == 3
    assert parse_answer_option('{"decision": "approve"}') == {"decision": "approve"}
    assert parse_answer_option("approve") == "approve"
    assert parse_answer_option(None) is None
    file = tmp_path / "answer.json"
    file.write_text("[1, 2]", encoding="utf-8")
    assert parse_answer_option(f"@{file}") == [1, 2]
    with pytest.raises(KitaruValidationError):
        parse_answer_option('{"decision": approve}')  # looks like JSON, so it must be JSON
    assert parse_assignment('checkpoint.fetch={"a": 1}', option="--override") == (
        "checkpoint.fetch",
        {"a": 1},
    )
    with pytest.raises(KitaruValidationError):
        parse_assignment("checkpoint.fetch", option="--override")


def test_bad_input_json_is_a_usage_error_before_anything_runs() -> None:
    error = kitaru_error("run", "flows_cli/research.py:research_agent", "--input", "{x", code=2)
    assert error["code"] == "validation_error"
    assert error["details"]["fields"] == {
        "--input": "must be JSON, or @path to a file holding JSON"
    }


# ------------------------------------------------------------------------------- reference


def test_docs_cli_md_is_generated_from_the_cli() -> None:
    from kitaru_core.cli.docs import render
    from kitaru_core.cli.main import cli

    generated = render(cli)
    committed = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert committed == generated, (
        "docs/cli.md is out of date: run `python -m kitaru_core.cli.docs > docs/cli.md`"
    )
    for path in _command_paths():
        assert f"`{' '.join(['kitaru', *path])}`" in generated


# ------------------------------------------------------------------------ init, status, info


def test_init_marks_the_project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kitaru_core.config.project import find_project_root

    monkeypatch.chdir(tmp_path)
    payload = kitaru_json("init")
    assert payload["root"] == str(tmp_path.resolve())
    assert (tmp_path / ".kitaru" / "project-root").is_file()
    assert find_project_root(tmp_path / "sub") == tmp_path.resolve()
    other = tmp_path / "other"
    result = kitaru("init", str(other))
    assert "Initialized a Kitaru project" in result.stdout
    assert (other / ".kitaru" / "project-root").is_file()
    (tmp_path / "blocked").mkdir()
    (tmp_path / "blocked" / ".kitaru").write_text("a file, not a folder")
    error = kitaru_error("init", str(tmp_path / "blocked"), code=2)
    assert error["code"] == "usage_error"


def test_status_and_info(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITARU_DEBUG", "false")
    status = kitaru_json("status")
    assert status["connection"]["kind"] == "local"
    assert status["active_stack"]["name"]
    assert status["config_dir"] == os.environ["KITARU_CONFIG_PATH"]
    assert status["env"]["KITARU_DEBUG"] == "false"
    assert status["problems"] == []
    assert status["fast_path"]["enabled"] is True
    table = kitaru("status").stdout
    for label in (
        "Connection",
        "Project",
        "Active stack",
        "Config dir",
        "Fast path",
        "KITARU_DEBUG",
    ):
        assert label in table
    info = kitaru_json("info")
    assert info["health"]["ok"] is True
    assert info["versions"]["zenml"]
    assert "Store check" in kitaru("info").stdout
