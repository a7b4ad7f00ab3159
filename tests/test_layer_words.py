"""Engine knowledge lives below the services: the words ``zenml`` and ``sqlite3`` appear in no
service and no surface (MCP server, CLI, SDK client and names), in code, comments or text.

What users are told about the engine (which release runs, which variables are honoured) still
reaches them: the words come from ``kitaru_core/config/env.py`` and the models, and the
engine-specific work the surfaces need (is it loaded, open it early, keep its logging off
stdout) from ``kitaru_core/backend/warmup.py``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from _mcp_support import list_tools
from cli_support import kitaru

from kitaru_core.config.env import ENGINE, ENGINE_SERVER_URL_VAR, SERVER_URL_VARS
from kitaru_core.config.resolver import resolve_connection
from kitaru_core.services.system import versions
from kitaru_mcp.server import build_server

ROOT = Path(__file__).resolve().parent.parent
# The services and every surface: what must not name the engine or its database driver.
SCANNED = (
    "kitaru_core/services",
    "kitaru_mcp",
    "kitaru_core/cli",
    "kitaru_core/__init__.py",
    "kitaru_core/client.py",
    "kitaru_core/sdk_connect.py",
    "kitaru_core/sdk_stacks.py",
)
WORDS = re.compile(r"zenml|sqlite3", re.IGNORECASE)


def python_files(paths: Iterable[Path]) -> list[Path]:
    """The ``.py`` files at or under ``paths`` (the MCP app's HTML and the like are skipped)."""
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return [path for path in found if path.suffix == ".py"]


def word_hits(files: Iterable[Path]) -> list[str]:
    """``file:line: text`` for every line that names the engine or its database driver."""
    hits = []
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if WORDS.search(line):
                shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                hits.append(f"{shown}:{number}: {line.strip()}")
    return hits


def test_services_and_surfaces_never_name_the_engine() -> None:
    files = python_files(ROOT / path for path in SCANNED)
    assert len(files) > 30  # the scan really covers the packages
    hits = word_hits(files)
    assert not hits, "engine words above the backend:\n" + "\n".join(hits)


def test_the_scan_finds_the_words_in_any_case(tmp_path: Path) -> None:
    package = tmp_path / "surface"
    (package / "tools").mkdir(parents=True)
    (package / "tools" / "a.py").write_text('"""Talks to ZenML."""\nx = 1\n')
    (package / "b.py").write_text("import sqlite3\n")
    (package / "c.py").write_text("y = 'zenml'\n")
    (package / "page.html").write_text("<p>ZenML</p>\n")  # not Python: not scanned
    hits = word_hits(python_files([package]))
    assert [hit.split(": ", 1)[0] for hit in hits] == [
        f"{package / 'b.py'}:1",
        f"{package / 'c.py'}:1",
        f"{package / 'tools' / 'a.py'}:1",
    ]


# ----------------------------------------------------------- the facts still reach the user


def test_info_names_the_engine_and_its_release(zenml_client: Any) -> None:
    release = metadata.version("zenml")
    assert ("ZenML", release) in versions().packages()
    assert versions().zenml == release  # the JSON field name is unchanged
    table = kitaru("info").stdout
    assert "ZenML" in table and release in table


def test_mcp_texts_name_the_engine() -> None:
    server = build_server()
    assert "durably on ZenML:" in (server.instructions or "")
    create = next(tool for tool in list_tools(server) if tool.name == "kitaru_stacks_create")
    extra = create.input_schema["properties"]["extra"]["description"]
    assert extra.startswith("Advanced ZenML component settings: {target: {field: value}}")


def test_the_engine_server_variable_is_the_one_the_resolver_honours() -> None:
    assert ENGINE == "ZenML" and SERVER_URL_VARS[0] == "KITARU_SERVER_URL"
    url = "https://engine.example.com"
    resolved = resolve_connection(environ={ENGINE_SERVER_URL_VAR: url})
    assert resolved.server_url.value == url
    assert resolved.server_url.source == "zenml_env"


# ----------------------------------------------------- the engine work the surfaces hand down


def _python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=os.environ
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_engine_loaded_tells_whether_the_engine_was_imported() -> None:
    out = _python(
        "from kitaru_core.backend.warmup import engine_loaded\n"
        "before = engine_loaded()\n"
        "import zenml\n"
        "print(before, engine_loaded())\n"
    )
    assert out.split() == ["False", "True"]


def test_the_console_script_help_exits_without_loading_the_engine() -> None:
    # main() asks the backend whether the engine is loaded on its way out; asking must not load it.
    out = _python(
        "import atexit, json, sys\n"
        "atexit.register(lambda: print(json.dumps(sorted(\n"
        "    m for m in sys.modules if m.split('.')[0] == 'zenml'))))\n"
        "sys.argv = ['kitaru', '--help']\n"
        "from kitaru_core.cli.main import main\n"
        "main()\n"
    )
    assert "Usage:" in out
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_quiet_engine_logging_keeps_the_engine_console_off_the_root_logger(
    zenml_client: Any,
) -> None:
    out = _python(
        "import json, logging\n"
        "from kitaru_core.backend.warmup import open_engine, quiet_engine_logging\n"
        f"logging.getLogger().setLevel({logging.ERROR})\n"
        f"quiet_engine_logging({logging.ERROR})\n"
        "open_engine()\n"
        "from kitaru_core.backend.zenml_compat.console import is_zenml_console_handler\n"
        "root = logging.getLogger()\n"
        "print(json.dumps([root.level, [is_zenml_console_handler(h) for h in root.handlers]]))\n"
    )
    level, handlers = json.loads(out.strip().splitlines()[-1])
    assert level == logging.ERROR
    assert True not in handlers
