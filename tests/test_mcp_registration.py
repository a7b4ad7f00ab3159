"""``kitaru mcp config``: a registration that works when an MCP client starts the server.

The end-to-end test starts the printed command the way a real stdio client does — with only the
printed ``env`` and a minimal ``PATH``, nothing of this shell's ``KITARU_CONFIG_PATH`` — and
checks that the server sees the execution the CLI created.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest
from cli_support import FLOWS_DIR, kitaru_error, kitaru_executable, kitaru_json
from mcp import Client, StdioServerParameters

from kitaru_core.errors import KitaruUsageError
from kitaru_core.services import mcp_registration as registration

BASIC_FLOWS = FLOWS_DIR.parent / "flows" / "basic.py"


def _kitaru(config: Path, *args: str, cwd: Path | None = None) -> Any:
    """``kitaru ARGS -o json`` as a real process on the config dir ``config``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KITARU_")}
    env["KITARU_CONFIG_PATH"] = str(config)
    done = subprocess.run(
        [*kitaru_executable(), *args, "-o", "json"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _list_over_stdio(entry: dict[str, Any]) -> dict[str, Any]:
    """``kitaru_executions_list`` through a stdio client given only ``entry``'s env + PATH."""
    params = StdioServerParameters(
        command=entry["command"],
        args=entry["args"],
        env={**entry["env"], "PATH": "/usr/bin:/bin"},
        cwd="/",
    )

    async def go() -> dict[str, Any]:
        async with Client(params) as client:
            result = await client.call_tool("kitaru_executions_list", {"limit": 50})
            assert not result.is_error, result.content
            assert result.structured_content is not None
            return result.structured_content

    return anyio.run(go)


def test_printed_registration_reaches_the_clis_executions(tmp_path: Path) -> None:
    config = tmp_path / "kitaru-config"
    started = _kitaru(
        config,
        "run",
        f"{BASIC_FLOWS}:value_flow",
        "--input",
        '{"kind": "int", "salt": "mcp-registration"}',
        "--wait",
    )
    printed = _kitaru(config, "mcp", "config", cwd=tmp_path)
    entry = printed["mcp_json"]["mcpServers"]["kitaru"]
    assert Path(entry["command"]).is_absolute()
    assert entry["env"]["KITARU_CONFIG_PATH"] == str(config.resolve())
    assert entry["args"] == ["--mode", "standard"]
    assert printed["written_to"] is None and not (tmp_path / ".mcp.json").exists()

    listed = _list_over_stdio(entry)
    assert started["exec_id"] in [item["exec_id"] for item in listed["items"]]


# ------------------------------------------------------------------------------ the rule


def test_config_dir_is_written_even_when_it_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("KITARU_CONFIG_PATH")
    built = registration.build_registration(environ={})
    assert built.env == {"KITARU_CONFIG_PATH": platformdirs.user_config_dir("kitaru", False)}


def test_relative_config_path_becomes_absolute(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KITARU_CONFIG_PATH", "relative/cfg")
    built = registration.build_registration(environ={})
    assert built.env["KITARU_CONFIG_PATH"] == str(tmp_path.resolve() / "relative" / "cfg")


def test_project_is_passed_but_connection_secrets_are_not() -> None:
    environ = {
        "KITARU_PROJECT": " team ",
        "KITARU_SERVER_URL": "https://kitaru.example.com",
        "KITARU_AUTH_TOKEN": "kat_secret_value_123",
        "KITARU_DEBUG": "1",
    }
    built = registration.build_registration("destructive", environ=environ)
    assert built.env["KITARU_PROJECT"] == "team"
    assert set(built.env) == {"KITARU_CONFIG_PATH", "KITARU_PROJECT"}
    assert built.withheld == ["KITARU_SERVER_URL", "KITARU_AUTH_TOKEN"]
    assert "kat_secret_value_123" not in json.dumps(built.mcp_json())
    assert built.args[-2:] == ["--mode", "destructive"]


def test_cli_output_never_prints_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITARU_SERVER_URL", "https://kitaru.example.com")
    monkeypatch.setenv("KITARU_AUTH_TOKEN", "kat_secret_value_123")
    printed = kitaru_json("mcp", "config")
    assert "kat_secret_value_123" not in json.dumps(printed)
    assert printed["withheld"] == ["KITARU_SERVER_URL", "KITARU_AUTH_TOKEN"]


def test_command_is_the_script_beside_the_interpreter(tmp_path: Path) -> None:
    script = tmp_path / "kitaru-mcp"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    assert registration.server_command(tmp_path) == [str(script)]


def test_without_a_script_it_falls_back_to_the_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no kitaru-mcp anywhere on PATH
    command = registration.server_command(tmp_path)
    assert command[1:] == ["-m", "kitaru_mcp"]
    done = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("kitaru-mcp "), done.stderr


def test_modes_match_the_servers() -> None:
    from kitaru_core.cli.mcp_config import _MODES
    from kitaru_mcp.registry import Mode

    assert registration.MODES == _MODES == tuple(mode.value for mode in Mode)


def test_unknown_mode_is_a_usage_error() -> None:
    with pytest.raises(KitaruUsageError, match="Unknown MCP server mode"):
        registration.build_registration("admin", environ={})
    error = kitaru_error("mcp", "config", "--mode", "admin", code=2)
    assert error["code"] == "usage_error"


# ------------------------------------------------------------------------------ --write


def test_write_merges_and_keeps_other_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    existing = {
        "mcpServers": {
            "other": {"command": "/usr/bin/other-server", "args": []},
            "kitaru": {"command": "kitaru-mcp"},  # the old, bare registration
        },
        "note": "kept",
    }
    (tmp_path / ".mcp.json").write_text(json.dumps(existing))
    printed = kitaru_json("mcp", "config", "--write", "--mode", "read-only")
    assert printed["written_to"] == str(tmp_path / ".mcp.json")
    written = json.loads((tmp_path / ".mcp.json").read_text())
    assert written["note"] == "kept"
    assert written["mcpServers"]["other"] == existing["mcpServers"]["other"]
    assert written["mcpServers"]["kitaru"] == printed["mcp_json"]["mcpServers"]["kitaru"]
    assert written["mcpServers"]["kitaru"]["args"] == ["--mode", "read-only"]


def test_path_creates_a_new_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "client.json"
    printed = kitaru_json("mcp", "config", "--path", str(target))
    assert json.loads(target.read_text()) == printed["mcp_json"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"mcpServers": {"other": ', "not readable JSON"),
        ('["kitaru"]', "JSON list"),
        ('{"mcpServers": ["kitaru"]}', '"mcpServers" is not an object'),
    ],
)
def test_malformed_file_is_refused_and_unchanged(tmp_path: Path, content: str, reason: str) -> None:
    target = tmp_path / ".mcp.json"
    target.write_text(content)
    error = kitaru_error("mcp", "config", "--path", str(target), code=2)
    assert error["code"] == "usage_error"
    assert reason in error["message"] and "not changed" in error["message"]
    assert target.read_text() == content
    assert [p.name for p in tmp_path.iterdir()] == [".mcp.json"]  # no partial file left
