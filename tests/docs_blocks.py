"""Fenced code blocks of the user docs, and the checks of their shell lines.

`tests/test_docs_examples.py` uses this to hold every example in ``README.md`` and ``docs/``
to the real code: ``kitaru`` lines are parsed by the real click tree, ``kitaru-mcp`` lines by
its real argument parser, ``make`` lines against the Makefile.

A block may be marked by an HTML comment on the line before it, e.g.
``<!-- docs-test: skip-run -->`` (a self-contained Python block that cannot run here).
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

REPO_ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)\s*$")
MARK = re.compile(r"<!--\s*docs-test:\s*([\w\s,-]+?)\s*-->")
SHELL_LANGS = {"bash", "sh", "shell", "console"}
KNOWN_MARKS = {"skip-run"}
# A shell word that starts a new command in the same line.
COMMAND_SEPARATORS = {"|", "||", "&&", ";", "&"}
# Redirections and the file they name are not arguments of the command.
REDIRECTION = re.compile(r"^(?:\d?>>?|<|\d?>&\d)(.*)$")
# A word that stands for options left out of an example ("kitaru stack create NAME ... --async").
ELISIONS = {"...", "…"}
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
SUBSHELL = re.compile(r"\$\(([^()]*)\)")
REPO_PATH = re.compile(r"^(?:\./)?((?:examples|benchmarks)/[\w./-]+\.py)(?::(\w+))?$")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language tag, its text, and its docs-test marks."""

    doc: str
    line: int
    lang: str
    text: str
    marks: frozenset[str]

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"


def doc_files() -> list[Path]:
    """README.md and docs/*.md, without docs/cli.md (generated from the click tree; its own
    test keeps it current)."""
    docs = sorted((REPO_ROOT / "docs").glob("*.md"))
    return [REPO_ROOT / "README.md", *(path for path in docs if path.name != "cli.md")]


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a markdown file, its indentation removed (blocks inside lists)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, fence, lang = opening.groups()
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        body = [
            line[len(indent) :] if line.startswith(indent) else line
            for line in lines[index + 1 : end]
        ]
        found.append(
            Block(
                doc=path.relative_to(REPO_ROOT).as_posix(),
                line=index + 2,  # the first line of code, 1-based
                lang=lang.lower(),
                text="\n".join(body) + "\n",
                marks=_marks_before(lines, index),
            )
        )
        index = end + 1
    return found


def _marks_before(lines: list[str], index: int) -> frozenset[str]:
    """The marks of the ``<!-- docs-test: ... -->`` comment right above a fence (blank lines ok)."""
    previous = index - 1
    while previous >= 0 and not lines[previous].strip():
        previous -= 1
    found = MARK.search(lines[previous]) if previous >= 0 else None
    if not found:
        return frozenset()
    return frozenset(mark.strip() for mark in found.group(1).split(",") if mark.strip())


def shell_lines(block: Block) -> list[tuple[int, str]]:
    """The command lines of a block with their line numbers.

    In a bash/sh/shell block every line is a command (continuations joined, comments dropped);
    in any other block only lines with a ``$ `` prompt are (e.g. a transcript with output).
    """
    every_line = block.lang in {"bash", "sh", "shell"}
    commands: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for offset, raw in enumerate(block.text.splitlines()):
        line = raw.strip()
        if not pending:
            start = block.line + offset
            if line.startswith("$ "):
                line = line[2:]
            elif not every_line or not line or line.startswith("#"):
                continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        commands.append((start, pending + line))
        pending = ""
    return commands


def split_commands(line: str) -> list[list[str]]:
    """Shell words of each simple command in a line: ``$(...)``, pipes and ``&&`` split it."""
    inner = [match.group(1) for match in SUBSHELL.finditer(line)]
    outer = SUBSHELL.sub("SUBSHELL_OUTPUT", line)
    commands: list[list[str]] = []
    for text in [outer, *inner]:
        current: list[str] = []
        redirect_target = False
        for word in shlex.split(text, comments=True):
            redirection = REDIRECTION.match(word)
            if redirect_target:
                redirect_target = False
            elif redirection:
                redirect_target = not redirection.group(1) and "&" not in word
            elif word in COMMAND_SEPARATORS:
                commands.append(current)
                current = []
            else:
                current.append(word)
        commands.append(current)
    return [command for command in commands if command]


def command_words(words: list[str]) -> list[str]:
    """Drop the leading ``NAME=value`` environment assignments of a simple command."""
    index = 0
    while index < len(words) and ENV_ASSIGNMENT.match(words[index]):
        index += 1
    return words[index:]


def check_kitaru(args: list[str]) -> str | None:
    """Parse a ``kitaru`` argument list with the real click tree, invoking nothing.

    Returns what is wrong, or None. Unknown commands or options, missing required arguments,
    extra arguments and bad choices all fail; ``--help`` and ``--version`` are fine.
    """
    from kitaru_core.cli.main import cli

    try:
        # ``--help`` / ``--version`` print while parsing; that text is not wanted here.
        with contextlib.redirect_stdout(io.StringIO()):
            return _resolve_command(cli, "kitaru", None, args)
    except click.exceptions.NoArgsIsHelpError as error:
        return f"'{error.ctx.command_path if error.ctx else 'kitaru'}' needs a subcommand"
    except click.exceptions.Exit as stop:
        return None if stop.exit_code == 0 else f"exits with {stop.exit_code}"
    except click.ClickException as error:
        return error.format_message()


def _resolve_command(
    command: click.Command, name: str, parent: click.Context | None, args: list[str]
) -> str | None:
    """Parse down the tree: each group's options, then its subcommand with the rest."""
    while True:
        ctx = command.make_context(name, list(args), parent=parent, resilient_parsing=False)
        if not isinstance(command, click.Group):
            return None
        # What is left after the group's own options: the subcommand and its arguments.
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            return f"'{ctx.command_path}' needs a subcommand"
        sub_name, sub_command, args = command.resolve_command(ctx, rest)
        assert sub_name is not None and sub_command is not None
        name, command, parent = sub_name, sub_command, ctx


def inline_commands(path: Path) -> list[tuple[int, str]]:
    """``kitaru ...`` code spans in the prose (outside fenced blocks), with line numbers."""
    found: list[tuple[int, str]] = []
    in_fence = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            found += [(number, span) for span in re.findall(r"`(kitaru [^`]+)`", line)]
    return found


def check_kitaru_mcp(args: list[str]) -> str | None:
    """Parse a ``kitaru-mcp`` argument list with the server's real argparse parser."""
    from kitaru_mcp.__main__ import parser

    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            parser().parse_args(args)
    except SystemExit as stop:
        if stop.code not in (0, None):
            return stderr.getvalue().strip().splitlines()[-1]
    return None


def make_targets() -> set[str]:
    """The targets the Makefile defines (``name:`` at the start of a line)."""
    text = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([\w.-]+):", text, flags=re.MULTILINE))


def check_make(args: list[str]) -> str | None:
    """Every target named on a ``make`` line exists (``VAR=value`` overrides are skipped)."""
    targets = make_targets()
    missing = [word for word in args if "=" not in word and not word.startswith("-")]
    missing = [word for word in missing if word not in targets]
    return f"no Makefile target {missing}" if missing else None


def check_repo_paths(words: list[str]) -> str | None:
    """A word naming a file under examples/ or benchmarks/ (``file.py`` or ``file.py:flow``)
    must name a file that exists."""
    for word in words:
        found = REPO_PATH.match(word)
        if not found:
            continue
        file = REPO_ROOT / found.group(1)
        if not file.is_file():
            return f"{found.group(1)} does not exist"
        flow = found.group(2)
        if flow and not re.search(rf"^def {flow}\(", file.read_text("utf-8"), re.MULTILINE):
            return f"{found.group(1)} defines no function {flow!r}"
    return None


def check_command(words: list[str], check_python: Callable[[str], list[str]]) -> list[str]:
    """What is wrong with one simple shell command (empty: nothing we know of)."""
    words = command_words(words)
    if not words or words[0] == "export":
        return []
    program = Path(words[0]).name
    problems = [problem for problem in [check_repo_paths(words)] if problem]
    checkers: dict[str, Callable[[list[str]], str | None]] = {
        "kitaru": check_kitaru,
        "kitaru-mcp": check_kitaru_mcp,
        "make": check_make,
    }
    checker = checkers.get(program)
    if checker is not None:
        problem = checker(words[1:])
        if problem and ELISIONS & set(words):
            # "..." stands either for a value or for options left out: try it as the latter.
            problem = checker([word for word in words[1:] if word not in ELISIONS])
        problems += [problem] if problem else []
    elif program.startswith("python") and "-c" in words[:-1]:
        problems += check_python(words[words.index("-c") + 1])
    return problems
