"""Hints speak the caller's language (SPEC §1.5).

Each error path is driven through all three surfaces — an SDK call, the real CLI (click
runner, ``-o json``) and the real MCP server through ``mcp.Client`` in every capability mode —
and its hint is checked twice:

* it names only that surface's things: MCP hints no ``kitaru …`` command and no ``--flag``;
  CLI hints no ``kitaru_…`` tool and no ``from_=``; SDK hints neither a command nor a tool;
* everything it names exists: backticked CLI commands resolve in the real click tree and their
  flags are that command's options; MCP tools are in ``tools/list`` of a server in that mode;
  backticked ``.py`` files exist in the repository.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest
from _mcp_support import call, error, list_tools
from cli_support import kitaru_error
from flows_cli import hinted

from kitaru_core import KitaruClient, KitaruError, use_stack
from kitaru_core.hints import Hint, Surface, render_hint, resolve_tools
from kitaru_mcp.server import build_server

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
MODES = ("read-only", "standard", "destructive")
# The test's own flow file: its executions and deployments meet no other test's.
HINTED = TESTS / "flows_cli" / "hinted.py"
NOT_A_FLOW = f"{HINTED}:hinted_step"  # a checkpoint, not a flow
DEPLOYABLE = f"{HINTED}:hinted_flow"
GHOST = str(uuid.uuid4())

_BACKTICKED = re.compile(r"`([^`]+)`")
_TOOL = re.compile(r"\bkitaru_[a-z_]+\b")
_CLI_COMMAND = re.compile(r"\bkitaru [a-z]")
_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


# ------------------------------------------------------------------------------ what exists


def _cli_root() -> click.Group:
    from kitaru_core.cli.main import cli

    return cli


def _cli_command(words: list[str]) -> tuple[click.Command, list[str]]:
    """The deepest command ``words`` (after ``kitaru``) name, and the words left over."""
    command: click.Command = _cli_root()
    rest = list(words)
    while rest and isinstance(command, click.Group) and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    return command, rest


def check_cli_names(hint: str) -> None:
    """Every backticked ``kitaru …`` command exists, and so does each of its ``--flags``."""
    for quoted in _BACKTICKED.findall(hint):
        if not quoted.startswith("kitaru "):
            continue
        words = quoted.split()[1:]
        command, rest = _cli_command(words)
        assert not isinstance(command, click.Group), f"{quoted!r} names no command ({hint})"
        options = {opt for param in command.params for opt in param.opts}
        for word in rest:
            if word.startswith("--"):
                assert word.split("=")[0] in options, f"{word} is not an option of {quoted!r}"
    for flag in _FLAG.findall(hint):  # flags named outside backticks exist somewhere too
        assert flag in _all_cli_options(), f"{flag} is no CLI option ({hint})"


def _all_cli_options() -> set[str]:
    found: set[str] = set()

    def walk(command: click.Command) -> None:
        found.update(opt for param in command.params for opt in param.opts)
        if isinstance(command, click.Group):
            for child in command.commands.values():
                walk(child)

    walk(_cli_root())
    return found


def check_files(hint: str) -> None:
    """Every backticked file path (``x.py``, possibly ``x.py:flow``) exists in the repo."""
    for quoted in _BACKTICKED.findall(hint):
        path = quoted.split(":")[0]
        if path.endswith(".py") and "<" not in path and " " not in path:
            assert (REPO / path).is_file() or Path(path).is_file(), f"{path} does not exist"


# ------------------------------------------------------------------------------ per surface


def assert_sdk_hint(hint: str) -> None:
    assert hint, "every error has a hint"
    assert not _CLI_COMMAND.search(hint), f"SDK hint names a CLI command: {hint}"
    assert not _TOOL.search(hint), f"SDK hint names an MCP tool: {hint}"
    assert not _FLAG.search(hint), f"SDK hint names a CLI flag: {hint}"
    check_files(hint)


def assert_cli_hint(hint: str) -> None:
    assert hint, "every error has a hint"
    assert not _TOOL.search(hint), f"CLI hint names an MCP tool: {hint}"
    assert "from_=" not in hint and "KitaruClient" not in hint, f"CLI hint speaks Python: {hint}"
    check_cli_names(hint)
    check_files(hint)


def assert_mcp_hint(hint: str, tools: set[str]) -> None:
    assert hint, "every error has a hint"
    assert not _CLI_COMMAND.search(hint), f"MCP hint names a CLI command: {hint}"
    assert not _FLAG.search(hint), f"MCP hint names a CLI flag: {hint}"
    assert "{tool:" not in hint, f"unresolved tool reference: {hint}"
    for tool in _TOOL.findall(hint):
        assert tool in tools, f"MCP hint names {tool}, which this mode hides: {hint}"
    check_files(hint)


# ------------------------------------------------------------------------------ the cases


@dataclass
class Case:
    """One error path on every surface. ``mcp`` is ``(tool, arguments)``."""

    sdk: Callable[[], Any]
    cli: list[str]
    mcp: tuple[str, dict[str, Any]]
    code: str
    cli_exit: int = 1
    says: list[str] = field(default_factory=list)  # words the hint must carry on all surfaces


@pytest.fixture(scope="module")
def finished() -> str:
    """A completed execution with two checkpoint calls (hinted_step, hinted_tail)."""
    handle = hinted.hinted_flow.run(text=f"hints {uuid.uuid4().hex[:8]}")
    handle.wait(timeout=300)
    return handle.exec_id


@pytest.fixture(scope="module")
def deployed() -> str:
    """A flow with one (local) deployment, tagged ``default``."""
    deployment = KitaruClient().deployments.deploy(DEPLOYABLE, allow_local=True)
    return deployment.flow


def _cases(finished: str, deployed: str) -> dict[str, Case]:
    client = KitaruClient()
    ex = client.executions
    return {
        "get unknown id": Case(
            lambda: ex.get(GHOST),
            ["executions", "get", GHOST],
            ("kitaru_executions_get", {"exec_id": GHOST}),
            "not_found",
        ),
        "get malformed id": Case(
            lambda: ex.get("not-an-id"),
            ["executions", "get", "not-an-id"],
            ("kitaru_executions_get", {"exec_id": "not-an-id"}),
            "not_found",
        ),
        "input unknown id": Case(
            lambda: ex.input(GHOST, value=True),
            ["executions", "input", GHOST, "--value", "true"],
            ("kitaru_executions_input", {"exec_id": GHOST, "value": True}),
            "not_found",
        ),
        "replay unknown id": Case(
            lambda: ex.replay(GHOST, from_="hinted_step"),
            ["executions", "replay", GHOST, "--from", "hinted_step"],
            ("kitaru_executions_replay", {"exec_id": GHOST, "from_checkpoint": "hinted_step"}),
            "not_found",
        ),
        "replay bad from": Case(
            lambda: ex.replay(finished, from_="no_such_call", dry_run=True),
            ["executions", "replay", finished, "--from", "no_such_call", "--dry-run"],
            (
                "kitaru_executions_replay",
                {"exec_id": finished, "from_checkpoint": "no_such_call", "dry_run": True},
            ),
            "validation_error",
            cli_exit=2,
        ),
        "wait not pending": Case(
            lambda: ex.input(finished, value=True),
            ["executions", "input", finished, "--value", "true"],
            ("kitaru_executions_input", {"exec_id": finished, "value": True}),
            "invalid_state",
        ),
        "unknown deployment tag": Case(
            lambda: client.deployments.get(deployed, tag="no-such-tag"),
            ["flow", "deployments", "get", deployed, "--tag", "no-such-tag"],
            ("kitaru_deployments_get", {"flow": deployed, "tag": "no-such-tag"}),
            "not_found",
        ),
        "flow given as a target": Case(
            lambda: client.deployments.get("review.py:review"),
            ["flow", "deployments", "get", "review.py:review"],
            ("kitaru_deployments_get", {"flow": "review.py:review"}),
            "not_found",
            says=["'review'"],
        ),
        "invalid flow target": Case(
            lambda: client.deployments.deploy("not a target", allow_local=True),
            ["run", "not a target"],
            ("kitaru_executions_run", {"target": "not a target"}),
            "usage_error",
            cli_exit=2,
        ),
        "not a flow target": Case(
            lambda: client.deployments.deploy(NOT_A_FLOW, allow_local=True),
            ["run", NOT_A_FLOW],
            ("kitaru_executions_run", {"target": NOT_A_FLOW}),
            "usage_error",
            cli_exit=2,
            says=["@flow"],
        ),
        "unknown stack": Case(
            lambda: use_stack("no-such-stack"),
            ["stack", "show", "no-such-stack"],
            ("kitaru_stacks_show", {"name": "no-such-stack"}),
            "not_found",
        ),
        "unknown stack on run": Case(  # found by the detached worker, reported back
            lambda: hinted.hinted_flow.run(text="x", stack="no-such-stack"),
            ["run", DEPLOYABLE, "--stack", "no-such-stack"],
            ("kitaru_executions_run", {"target": DEPLOYABLE, "stack": "no-such-stack"}),
            "not_found",
        ),
        "unknown artifact": Case(
            lambda: client.artifacts.get(GHOST),
            ["artifacts", "get", GHOST],
            ("kitaru_artifacts_get", {"artifact_id": GHOST}),
            "not_found",
        ),
    }


CASE_NAMES = [
    "get unknown id",
    "get malformed id",
    "input unknown id",
    "replay unknown id",
    "replay bad from",
    "wait not pending",
    "unknown deployment tag",
    "flow given as a target",
    "invalid flow target",
    "not a flow target",
    "unknown stack",
    "unknown stack on run",
    "unknown artifact",
]


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, tuple[Any, set[str]]]]:
    """One server per mode (flow targets may come from tests/), with its tools/list names."""
    built = {}
    for mode in MODES:
        server = build_server(mode, allow_paths=[TESTS])
        built[mode] = (server, {tool.name for tool in list_tools(server)})
    yield built


@pytest.mark.parametrize("name", CASE_NAMES)
def test_each_surface_hints_in_its_own_words(
    zenml_client: Any,
    finished: str,
    deployed: str,
    servers: dict[str, tuple[Any, set[str]]],
    name: str,
) -> None:
    case = _cases(finished, deployed)[name]

    with pytest.raises(KitaruError) as caught:
        case.sdk()
    assert caught.value.code == case.code
    sdk_hint = caught.value.hint
    assert_sdk_hint(sdk_hint)

    body = kitaru_error(*case.cli, code=case.cli_exit)
    assert body["code"] == case.code
    assert_cli_hint(body["hint"])

    tool, arguments = case.mcp
    mcp_hints = []
    for mode, (server, tools) in servers.items():
        result = error(call(server, tool, arguments))
        if tool in tools:
            assert result["code"] == case.code, (mode, result)
        else:  # the mode hides the tool: refused by name, with a hint in MCP's words
            assert result["code"] == "mode_forbidden", (mode, result)
            assert result["details"]["required_mode"] in result["hint"]
        assert_mcp_hint(result["hint"], tools)
        mcp_hints.append(result["hint"])

    for word in case.says:
        assert word in sdk_hint and word in body["hint"], (word, sdk_hint, body["hint"])
        assert all(word in hint for hint in mcp_hints[1:]), (word, mcp_hints)


def test_a_hidden_tool_becomes_ask_the_user(servers: dict[str, tuple[Any, set[str]]]) -> None:
    """A wait that is no longer pending, aborted in standard mode: the hint may point at
    cancelling the execution, which only destructive mode offers."""
    from kitaru_core.services.executions import _RETRY_OR_REPLAY

    hint = Hint(sdk="s", cli="c", mcp="Or {tool:kitaru_executions_cancel|cancel it}.")
    _, standard = servers["standard"]
    _, destructive = servers["destructive"]
    from kitaru_mcp.errors import tool_modes_for
    from kitaru_mcp.registry import Mode

    hidden = hint.text(Surface.MCP, tool_modes=tool_modes_for(Mode.STANDARD))
    assert hidden == "Or ask the user to cancel it (needs destructive mode)."
    assert_mcp_hint(hidden, standard)
    shown = hint.text(Surface.MCP, tool_modes=tool_modes_for(Mode.DESTRUCTIVE))
    assert shown == "Or cancel it with `kitaru_executions_cancel`."
    assert_mcp_hint(shown, destructive)
    read_only = _RETRY_OR_REPLAY.text(Surface.MCP, tool_modes=tool_modes_for(Mode.READ_ONLY))
    assert "kitaru_executions_retry" not in read_only and "needs standard mode" in read_only
    assert render_hint(hint, Surface.CLI) == "c" and render_hint(hint, Surface.SDK) == "s"


def test_tool_descriptions_name_only_tools_of_their_mode(
    servers: dict[str, tuple[Any, set[str]]],
) -> None:
    """Descriptions suggest next tools; in a mode that hides one, they say to ask the user."""
    for mode, (server, tools) in servers.items():
        for tool in list_tools(server):
            description = tool.description or ""
            assert "{tool:" not in description, (mode, tool.name)
            named = set(_TOOL.findall(description))
            assert named <= tools, (mode, tool.name, named - tools)
    waiting = {
        mode: next(t for t in list_tools(server) if t.name == "kitaru_executions_waiting")
        for mode, (server, _) in servers.items()
    }
    assert "kitaru_executions_abort_wait" in (waiting["destructive"].description or "")
    standard = waiting["standard"].description or ""
    assert "kitaru_executions_abort_wait" not in standard
    assert "ask the user to abort the wait (needs destructive mode)" in standard


def test_hint_objects_survive_pickling_and_plain_hints_stay_plain() -> None:
    """Errors cross process boundaries (detached workers) with their per-surface hints."""
    import pickle

    from kitaru_core.errors import KitaruNotFoundError, error_from_dict
    from kitaru_core.hints import EXECUTION_IDS

    error = KitaruNotFoundError("gone", hint=EXECUTION_IDS)
    copy = pickle.loads(pickle.dumps(error))
    assert copy.hint_for(Surface.CLI) == EXECUTION_IDS.cli
    assert copy.to_dict(Surface.MCP)["hint"] == resolve_tools(EXECUTION_IDS.mcp)
    body = error.to_dict(portable=True)  # what a detached worker reports to its starter
    rebuilt = error_from_dict(body)
    assert rebuilt.hint_for(Surface.CLI) == EXECUTION_IDS.cli
    assert rebuilt.hint_for(Surface.SDK) == EXECUTION_IDS.sdk
    assert set(error.to_dict(Surface.CLI)) == {"code", "message", "hint", "retryable", "details"}
    plain = KitaruNotFoundError("gone", hint="Look elsewhere.")
    assert {plain.hint_for(surface) for surface in Surface} == {"Look elsewhere."}
