"""What every command shares: the ``--output`` option, the error contract and input parsing.

Error contract (SPEC §7): errors go to stderr; exit code 2 for usage and validation errors, 1
for everything else; under ``-o json`` stderr holds exactly one JSON object
``{"error": {"code", "message", "hint", "retryable", "details"}}`` — the MCP error body.

Only ``click`` and :mod:`kitaru_core.errors` are imported here, both cheap.
"""

from __future__ import annotations

import json
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from kitaru_core.config.env import debug_enabled
from kitaru_core.errors import KitaruError, KitaruUsageError, KitaruValidationError
from kitaru_core.hints import Surface

F = TypeVar("F", bound=Callable[..., Any])

OUTPUT_FORMATS = ("table", "json")
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# Error codes that mean "the command was called wrongly" (exit 2); all others exit 1.
USAGE_CODES = frozenset({"usage_error", "validation_error", "wait_validation_error"})
_META_KEY = "kitaru.output"
_JSON_START = ("{", "[", '"')


class _State:
    """The output format chosen by the command being run (kept for the error handler, which
    runs after click's contexts are gone)."""

    output: str | None = None


def _remember_output(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.meta[_META_KEY] = value.lower()
        _State.output = value.lower()


def output_option(func: F) -> F:
    """``-o/--output table|json`` (on the root group and on every command)."""
    return click.option(
        "-o",
        "--output",
        type=click.Choice(OUTPUT_FORMATS, case_sensitive=False),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_remember_output,
        help="Output format: 'table' for people (default), 'json' for scripts.",
    )(func)


def output_format() -> str:
    """``table`` or ``json`` for the command being run."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and _META_KEY in ctx.meta:
        return str(ctx.meta[_META_KEY])
    return _State.output or "table"


def json_output() -> bool:
    return output_format() == "json"


def _json_requested(argv: Sequence[str]) -> bool:
    """Whether ``argv`` asks for JSON output (used when parsing failed before the option ran)."""
    if _State.output is not None:
        return _State.output == "json"
    for index, arg in enumerate(argv):
        if arg in ("-o", "--output") and index + 1 < len(argv):
            if argv[index + 1].lower() == "json":
                return True
        elif arg.lower() in ("-ojson", "--output=json"):
            return True
    return False


# ------------------------------------------------------------------------------ input parsing


def read_option_text(text: str, *, option: str) -> tuple[str, str]:
    """``@path`` → the file's text; anything else unchanged. Returns ``(text, where)``."""
    if not text.startswith("@"):
        return text, option
    path = Path(text[1:]).expanduser()
    try:
        return path.read_text(encoding="utf-8"), f"{option} file {path}"
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise KitaruUsageError(
            f"{option} {text}: the file could not be read ({reason}).",
            hint=f"Pass JSON directly ({option} '{{...}}') or @path to a file that exists.",
            details={"option": option, "file": str(path)},
        ) from None


def parse_json_option(text: str | None, *, option: str) -> Any:
    """A ``--input``-style value: JSON text, or ``@path`` to a file holding JSON."""
    if text is None:
        return None
    body, where = read_option_text(text, option=option)
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise KitaruValidationError(
            f"{where} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).",
            fields={option: "must be JSON, or @path to a file holding JSON"},
            hint=f'Quote it for the shell, e.g. {option} \'{{"topic": "agents"}}\'.',
        ) from None


def parse_answer_option(text: str | None, *, option: str = "--value") -> Any:
    """A wait answer: JSON, ``@file``, or — for convenience — a bare word taken as a string.

    ``--value true`` is the boolean, ``--value 3`` the number, ``--value approve`` the string
    ``"approve"``. Text that starts like JSON (``{``, ``[``, ``"``) must be valid JSON.
    """
    if text is None:
        return None
    body, _ = read_option_text(text, option=option)
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        if body.strip().startswith(_JSON_START):
            return parse_json_option(text, option=option)  # raises with the precise reason
        return body.strip()


def parse_assignment(text: str, *, option: str) -> tuple[str, Any]:
    """``KEY=JSON`` → ``(key, value)``; a value that is not JSON is taken as a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise KitaruValidationError(
            f"{option} {text!r} must look like KEY=VALUE (VALUE as JSON).",
            fields={option: "expected KEY=VALUE"},
        )
    return key.strip(), parse_answer_option(raw, option=option)


# ------------------------------------------------------------------------------ error handling


def exit_code_for(error: KitaruError) -> int:
    return EXIT_USAGE if error.code in USAGE_CODES else EXIT_FAILURE


def report_error(error: KitaruError, *, as_json: bool) -> int:
    """Write ``error`` to stderr (one JSON object, or a message and a hint) → exit code.

    The hint is the CLI's own (commands and flags), whichever rule raised the error.
    """
    if as_json:
        body = {"error": error.to_dict(Surface.CLI)}
        click.echo(json.dumps(body, ensure_ascii=False, default=str), err=True)
        return exit_code_for(error)
    click.echo(click.style("Error: ", fg="red", bold=True) + error.message, err=True)
    fields = error.details.get("fields")
    if isinstance(fields, dict):
        for name, problem in fields.items():
            if str(problem) not in error.message:  # only what the message does not say yet
                click.echo(f"  {name}: {problem}", err=True)
    hint = error.hint_for(Surface.CLI)
    if hint:
        click.echo(click.style("Hint: ", fg="yellow") + hint, err=True)
    return exit_code_for(error)


def click_error(exc: click.ClickException) -> KitaruError:
    """A click parsing error as a Kitaru usage error (same contract as every other error)."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "kitaru"
    error = KitaruUsageError(
        exc.format_message(),
        hint=f"See `{path} --help` for the arguments and options.",
        details={"command": path},
    )
    if not isinstance(exc, click.UsageError):
        error.code = "cli_error"
    return error


def long_running() -> None:
    """Called by commands that keep running (``--wait``, ``--follow``): the console script
    turns the garbage collector off for its short life; a long one needs it back."""
    import gc

    gc.enable()


class KitaruGroup(click.Group):
    """The root group: runs a command and applies the error contract to whatever it raises."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        _State.output = None
        with warnings.catch_warnings():
            if not debug_enabled():
                # Third-party deprecation chatter is not for CLI users (stderr is for errors).
                warnings.simplefilter("ignore")
            code = self._run(argv, prog_name, complete_var, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(
        self, argv: list[str], prog_name: str | None, complete_var: str | None, **extra: Any
    ) -> int:
        from kitaru_core.errors import translate_exception

        try:
            result = super().main(
                args=argv,
                prog_name=prog_name or "kitaru",
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            return EXIT_FAILURE
        except click.ClickException as exc:
            error = click_error(exc)
            report_error(error, as_json=_json_requested(argv))
            return EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            return EXIT_INTERRUPTED
        except Exception as exc:
            if debug_enabled() and not isinstance(exc, KitaruError):
                traceback.print_exc()
            return report_error(translate_exception(exc), as_json=_json_requested(argv))
        return result if isinstance(result, int) else EXIT_OK
