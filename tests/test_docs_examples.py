"""Docs that run: every example in README.md and docs/*.md is held to the real code.

- ``kitaru ...`` shell lines are parsed by the real click tree (nothing is invoked), so an
  unknown command or option, a missing required argument or an extra argument fails;
  ``kitaru-mcp ...`` lines by the server's argparse parser; ``make ...`` targets must exist;
  ``examples/...`` / ``benchmarks/...`` files (and ``file.py:flow`` targets) must exist;
  ``python -c '...'`` code is checked like a Python block. Commands named in the prose must
  exist too (their arguments may be left out there).
- Python blocks are checked statically (tests/docs_python.py): imported names, attributes and
  call signatures of the SDK must be real; a signature shown as a block must match.
- Self-contained Python blocks (no name they do not define themselves) really run, each page's
  in one subprocess with its own config dir and a mocked LLM; a ``# literal`` comment after
  an expression is checked against its value. A block that cannot run here (it needs a cloud,
  a server, or a file or setup the page only describes) carries
  ``<!-- docs-test: skip-run -->`` on the line before it.
- JSON, YAML and TOML blocks parse; the README's ``.mcp.json`` entry has the shape
  ``kitaru mcp config`` writes; MCP tools named in the docs exist; every public SDK name is
  documented somewhere.

docs/cli.md is generated from the click tree (tests/test_cli_basics.py checks it is current).
"""

from __future__ import annotations

import ast
import functools
import io
import json
import os
import re
import subprocess
import sys
import tokenize
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from cli_support import kitaru_json
from docs_blocks import (
    KNOWN_MARKS,
    SHELL_LANGS,
    Block,
    blocks,
    check_command,
    check_kitaru,
    command_words,
    doc_files,
    inline_commands,
    shell_lines,
    split_commands,
)
from docs_python import Checker, free_names, source_of

DOCS = doc_files()
DOC_IDS = [path.name for path in DOCS]
# Languages a block may have: shell and Python are checked line by line, data formats parse,
# "text" and untagged blocks are output or diagrams (only their "$ " prompt lines are checked).
KNOWN_LANGS = SHELL_LANGS | {"python", "json", "yaml", "toml", "text", ""}

# Runs the given files in order as __main__ in this one process (ZenML's import and store
# bootstrap are paid once per page) and prints one JSON line per file: {"file", "error"}.
# ``__docs_claim__`` checks a value a block documents in a comment (see _with_claims_checked).
RUNNER = """
import json, runpy, sys, traceback

def claim(value, documented, line):
    if value != documented:
        raise AssertionError(f"docs line {line}: the docs say {documented!r}, it is {value!r}")

for path in sys.argv[1:]:
    try:
        runpy.run_path(path, init_globals={"__docs_claim__": claim}, run_name="__main__")
        error = None
    except BaseException:
        error = traceback.format_exc(limit=-6)
    print("DOCS-TEST " + json.dumps({"file": path, "error": error}), flush=True)
"""


def _check_python_code(code: str, where: str) -> list[str]:
    """Problems of a ``python -c`` snippet, checked on its own."""
    checker = Checker()
    checker.check(code, where)
    return checker.problems


def test_the_docs_have_examples_to_check() -> None:
    """The extraction itself works: the pages exist and have plenty of blocks of each kind."""
    every = [block for path in DOCS for block in blocks(path)]
    langs = [block.lang for block in every]
    assert {"README.md", "flows.md", "executions.md", "server.md"} <= set(DOC_IDS)
    assert langs.count("python") > 50
    assert langs.count("bash") > 20
    readme = blocks(DOCS[0])
    assert any("make demo" in block.text for block in readme), "README quickstart not found"
    assert any("kitaru mcp config" in block.text for block in readme), "MCP registration"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # The form docs/flows.md once showed: the wait name and value are options.
        ("kitaru executions input EXEC_ID approval '{\"ok\": true}'", "unexpected extra"),
        ("kitaru executions input", "Missing argument"),
        ("kitaru executions get EXEC_ID --colour", "No such option"),
        ("kitaru executoins list", "No such command"),
        ("kitaru executions", "needs a subcommand"),
        ("kitaru executions list -o yaml", "'yaml' is not one of"),
        ("kitaru-mcp --mode everything", "invalid choice"),
        ("make deploy", "no Makefile target"),
        ("kitaru run examples/basic_agent.py:no_such_flow", "defines no function"),
        ("python -c 'from kitaru_core import no_such_name'", "no such name"),
        ("X=$(kitaru auth tokens)", "No such command"),
    ],
)
def test_shell_check_catches_wrong_lines(line: str, expected: str) -> None:
    """The checks can fail: each of these lines is wrong in its own way."""
    problems = [
        problem
        for words in split_commands(line)
        for problem in check_command(words, lambda code: _check_python_code(code, "t.md:1"))
    ]
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    "line",
    [
        "kitaru executions input EXEC_ID --wait approval --value '{\"ok\": true}' --follow",
        "$ KITARU_DEBUG=1 kitaru status -o json > status.json || echo 'not healthy'",
        "kitaru --help",
        "kitaru-mcp --transport http --port 8765",
        "make demo test",
        "kitaru executions get …",
        "kitaru stack create prod-vertex ... --async",
    ],
)
def test_shell_check_accepts_right_lines(line: str) -> None:
    block = Block(doc="t.md", line=1, lang="bash", text=line + "\n", marks=frozenset())
    [(_, command)] = shell_lines(block)
    problems = [p for words in split_commands(command) for p in check_command(words, list)]
    assert problems == []


def test_python_check_catches_wrong_sdk_use() -> None:
    code = """
from kitaru_core import KitaruClient, flow, no_such_name
import kitaru_core

kitaru_core.connectt("http://x")
executions = KitaruClient().executions
executions.replay("id", frm="summarize")
executions.get("id").failure.checkpointt
for call in executions.get("id").checkpoints:
    call.attemptz

@flow(retry=2)
def agent(topic: str) -> str: ...

agent.deployy()
"""
    checker = Checker()
    checker.check(code, "t.md:1")
    expected = [
        "t.md:2: `from kitaru_core import no_such_name`: no such name",
        "t.md:5: `kitaru_core` has no attribute `connectt`",
        "t.md:7: `ExecutionsAPI.replay(...)`: got an unexpected keyword argument 'frm'",
        "t.md:8: `Failure` has no attribute `checkpointt`",
        "t.md:10: `CheckpointCall` has no attribute `attemptz`",
        "t.md:12: `flow(...)`: got an unexpected keyword argument 'retry'",
        "t.md:15: `Flow` has no attribute `deployy`",
    ]
    assert checker.problems == expected


def test_python_check_compares_documented_signatures() -> None:
    checker = Checker()
    checker.check("from kitaru_core import connect\n", "t.md:1")
    checker.check(
        "connect(server_url, *, api_key=None, project=None) -> ServerConnection\n", "t.md:3"
    )
    assert checker.problems == []
    checker.check("connect(url, api_key=None) -> ServerConnection\n", "t.md:5")
    assert len(checker.problems) == 1 and "is documented as" in checker.problems[0]


@pytest.mark.parametrize("path", DOCS, ids=DOC_IDS)
def test_blocks_have_known_languages_and_marks(path: Path) -> None:
    problems = [
        f"{block.where}: language {block.lang!r} is not one of {sorted(KNOWN_LANGS)}"
        for block in blocks(path)
        if block.lang not in KNOWN_LANGS
    ]
    problems += [
        f"{block.where}: unknown docs-test mark(s) {sorted(block.marks - KNOWN_MARKS)}"
        for block in blocks(path)
        if block.marks - KNOWN_MARKS
    ]
    problems += [
        f"{block.where}: skip-run on a {block.lang or 'untagged'} block (only Python runs)"
        for block in blocks(path)
        if "skip-run" in block.marks and block.lang != "python"
    ]
    assert problems == []


@pytest.mark.parametrize("path", DOCS, ids=DOC_IDS)
def test_data_blocks_parse(path: Path) -> None:
    parsers: dict[str, Callable[[str], object]] = {
        "json": json.loads,
        "yaml": yaml.safe_load,
        "toml": tomllib.loads,
    }
    problems = []
    for block in blocks(path):
        parse = parsers.get(block.lang)
        if parse is None:
            continue
        try:
            parse(block.text)
        except Exception as error:  # each parser has its own error type
            problems.append(f"{block.where}: {block.lang} does not parse: {error}")
    assert problems == []


@pytest.mark.parametrize("path", DOCS, ids=DOC_IDS)
def test_shell_lines_parse_against_the_real_commands(path: Path) -> None:
    problems = []
    checked = 0
    for block in blocks(path):
        for line_number, line in shell_lines(block):
            where = f"{block.doc}:{line_number}"
            try:
                commands = split_commands(line)
            except ValueError as error:  # unbalanced quotes
                problems.append(f"{where}: not a valid shell line ({error}): {line}")
                continue
            check_python = functools.partial(_check_python_code, where=where)
            for words in commands:
                checked += 1
                found = check_command(words, check_python)
                problems += [f"{where}: {problem}\n    {line}" for problem in found]
    assert problems == [], "\n".join(problems)
    if any(block.lang in SHELL_LANGS for block in blocks(path)):
        assert checked > 0


# Prose may name a command without its arguments ("see `kitaru executions get`"); what it may
# not do is name a command or an option that does not exist.
INLINE_ERRORS = ("No such command", "No such option", "needs a subcommand")


@pytest.mark.parametrize("path", DOCS, ids=DOC_IDS)
def test_commands_named_in_prose_exist(path: Path) -> None:
    problems = []
    for line_number, span in inline_commands(path):
        try:
            commands = [command_words(words) for words in split_commands(span)]
        except ValueError:
            continue  # unbalanced quotes: prose, not a command
        for words in commands:
            problem = check_kitaru(words[1:]) if words[:1] == ["kitaru"] else None
            if problem and problem.startswith(INLINE_ERRORS):
                problems.append(f"{path.name}:{line_number}: `{span}`: {problem}")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("path", DOCS, ids=DOC_IDS)
def test_python_blocks_use_the_real_sdk(path: Path) -> None:
    """Names flow from block to block of a page, as a reader would assume."""
    checker = Checker()
    for block in blocks(path):
        if block.lang == "python":
            checker.check(source_of(block.text), block.where)
    assert checker.problems == [], "\n".join(checker.problems)


def _runnable(path: Path) -> list[Block]:
    """Python blocks that define everything they use, minus those marked skip-run."""
    runnable = []
    for block in blocks(path):
        if block.lang != "python" or "skip-run" in block.marks:
            continue
        try:
            tree = ast.parse(source_of(block.text))
        except SyntaxError:
            continue  # a signature; test_python_blocks_use_the_real_sdk checks it
        if not free_names(tree):
            runnable.append(block)
    return runnable


def _documented_value(comment: str) -> str | None:
    """The Python literal a comment documents (``# {'length': 32}``, ``# 'parse_2' — why``)."""
    text = comment.lstrip("#").split(" — ")[0].strip()
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return text


def _printed(node: ast.expr) -> ast.expr | None:
    """``x`` of ``print(x)``, else None."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return None
    if node.func.id == "print" and len(node.args) == 1 and not node.keywords:
        return node.args[0]
    return None


def _with_claims_checked(source: str, first_line: int) -> str:
    """The block with each one-line ``expr  # literal`` (or ``print(expr)  # literal``) turned
    into a check that ``expr`` really equals the documented literal."""
    comments = {
        token.start[0]: token.string
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    }
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Expr) or node.lineno != node.end_lineno:
            continue
        documented = _documented_value(comments.get(node.lineno, ""))
        if documented is None:
            continue
        value = _printed(node.value) or node.value
        code = ast.get_source_segment(source, value)
        indent = lines[node.lineno - 1][: node.col_offset]
        doc_line = first_line + node.lineno - 1
        lines[node.lineno - 1] = f"{indent}__docs_claim__({code}, {documented}, {doc_line})"
    return "\n".join(lines) + "\n"


def _isolated_env(config_dir: Path) -> dict[str, str]:
    """This environment without any Kitaru/ZenML setting, with its own config dir."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("KITARU_", "ZENML_"))
    }
    env.update(
        KITARU_CONFIG_PATH=str(config_dir),
        KITARU_LLM_MOCK_RESPONSE="A mocked answer.",
        ZENML_ANALYTICS_OPT_IN="false",
        ZENML_DISABLE_INTERACTIVE_INPUT="true",
        ZENML_AUTO_OPEN_DASHBOARD="false",
    )
    return env


RUNNABLE_DOCS = [path for path in DOCS if _runnable(path)]


@pytest.mark.parametrize("path", RUNNABLE_DOCS, ids=[path.name for path in RUNNABLE_DOCS])
def test_self_contained_python_blocks_run(path: Path, tmp_path: Path) -> None:
    """Each runnable block runs as ``__main__`` from its own file, in page order."""
    files = []
    for block in _runnable(path):
        file = tmp_path / f"{path.stem}_line_{block.line}.py"
        file.write_text(_with_claims_checked(source_of(block.text), block.line), encoding="utf-8")
        files.append(file)
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, *map(str, files)],
        cwd=tmp_path,
        env=_isolated_env(tmp_path / "config"),
        capture_output=True,
        text=True,
        timeout=600,  # a guard against a hang, not a timing assertion
    )
    reports = [
        json.loads(line.removeprefix("DOCS-TEST "))
        for line in result.stdout.splitlines()
        if line.startswith("DOCS-TEST ")
    ]
    assert len(reports) == len(files), result.stderr[-3000:]
    failures = [
        f"{path.name} block at line {Path(report['file']).stem.rsplit('_', 1)[1]}:\n"
        f"{report['error']}"
        for report in reports
        if report["error"]
    ]
    assert failures == [], "\n".join(failures)


def test_documented_values_are_checked_when_a_block_runs(tmp_path: Path) -> None:
    """A ``# literal`` comment is a claim: a wrong one fails the block, a right one passes."""
    source = "total = 2 + 2\nprint(total)  # 5 — wrong on purpose\ntotal  # 4\n"
    checked = _with_claims_checked(source, first_line=10)
    assert "__docs_claim__(total, 5, 11)" in checked
    assert "__docs_claim__(total, 4, 12)" in checked
    file = tmp_path / "claims.py"
    file.write_text(checked, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, str(file)], capture_output=True, text=True, timeout=60
    )
    [report] = [json.loads(line.split(" ", 1)[1]) for line in result.stdout.splitlines()]
    assert "docs line 11: the docs say 5, it is 4" in report["error"]


def _shape(value: object) -> object:
    """A JSON value with its strings blanked: what a documented example must share with the
    real output (keys, nesting, lists), paths and ids aside."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def test_readme_mcp_registration_matches_what_kitaru_writes() -> None:
    """The README's `.mcp.json` entry has the shape and arguments `kitaru mcp config` writes."""
    readme = blocks(DOCS[0])
    [documented] = [json.loads(block.text) for block in readme if '"mcpServers"' in block.text]
    real = kitaru_json("mcp", "config")["mcp_json"]
    assert _shape(documented) == _shape(real)
    assert documented["mcpServers"]["kitaru"]["args"] == real["mcpServers"]["kitaru"]["args"]


def test_documented_mcp_tools_exist() -> None:
    """A tool named in the docs (`kitaru_executions_waiting`) is a real MCP tool. Names of
    another shape (`kitaru_core`, the `kitaru_execution_spec` metadata key) are not tools."""
    from kitaru_mcp.registry import TOOLS

    groups = {name.split("_")[1] for name in TOOLS}
    named = {
        (path.name, name)
        for path in DOCS
        for name in re.findall(r"`(kitaru_[a-z_]+)`", path.read_text(encoding="utf-8"))
        if name.split("_")[1] in groups
    }
    assert len(named) > 10
    assert sorted(entry for entry in named if entry[1] not in TOOLS) == []


def test_every_public_sdk_name_is_documented() -> None:
    """The other direction: nothing exported from ``kitaru_core`` is missing from the docs."""
    import kitaru_core

    text = "\n".join(path.read_text(encoding="utf-8") for path in DOCS)
    missing = [name for name in kitaru_core.__all__ if not re.search(rf"\b{name}\b", text)]
    assert missing == []
    server = (Path(kitaru_core.__file__).parent.parent / "docs" / "server.md").read_text()
    assert "connect(" in server
