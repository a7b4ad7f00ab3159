"""The ``kitaru`` command tree (console script ``kitaru = kitaru_core.cli.main:main``)."""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

import click

from kitaru_core import __version__
from kitaru_core.cli.account import auth_group, log_store_group, login_command, logout_command
from kitaru_core.cli.artifacts import artifacts_group
from kitaru_core.cli.core import KitaruGroup, output_option
from kitaru_core.cli.deployments import deploy_command, flow_group, invoke_command
from kitaru_core.cli.executions import executions_group, run_command
from kitaru_core.cli.flows import flow_list_command
from kitaru_core.cli.mcp_config import mcp_group
from kitaru_core.cli.models import model_group, secrets_group
from kitaru_core.cli.stacks import stack_group
from kitaru_core.cli.system import info_command, init_command, status_command

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group("kitaru", cls=KitaruGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="kitaru", message="%(prog)s %(version)s")
@output_option
def cli() -> None:
    """Kitaru: durable execution for AI-agent workflows.

    Run flows, answer their questions, and resume, retry, replay or deploy them. Every command
    takes -o/--output table|json; errors go to stderr (exit 2: usage, 1: anything else).
    """


for command in (
    init_command,
    status_command,
    info_command,
    stack_group,
    run_command,
    executions_group,
    artifacts_group,
    deploy_command,
    invoke_command,
    flow_group,
    login_command,
    logout_command,
    auth_group,
    model_group,
    secrets_group,
    log_store_group,
    mcp_group,
):
    cli.add_command(command)
flow_group.add_command(flow_list_command)  # ``flow list`` lives beside the deployment commands


def run(argv: Sequence[str] | None = None) -> int:
    """Run one ``kitaru`` command line in this process; returns its exit code."""
    code: int = cli.main(args=argv, prog_name="kitaru", standalone_mode=False)
    return code


def main() -> NoReturn:
    """The console script: run the command line of this process, then exit with its code.

    A ``kitaru`` process lives for one command, so two costs of a long-lived interpreter are
    skipped: the cyclic garbage collector while the engine's thousands of classes are imported
    (commands that keep running, such as ``--wait`` and ``--follow``, switch it back on), and
    the interpreter's teardown once the output is flushed and exit hooks have run (about a
    second after the engine was imported; nothing is written then).
    """
    gc.disable()
    code = run()
    from kitaru_core.backend.warmup import engine_loaded  # cheap: no engine import

    if not engine_loaded():
        sys.exit(code)  # a cheap process: the normal exit is fast
    atexit._run_exitfuncs()  # logging.shutdown() and the like still run
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
