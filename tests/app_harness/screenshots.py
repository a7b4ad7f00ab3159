"""Screenshots of the execution app for the docs, made with the test harness on a real run.

    .venv/bin/python tests/app_harness/screenshots.py [output-dir]

Runs ``approval_flow`` (tests/flows_mcp/agents.py) in a throwaway Kitaru config dir (a fresh
local store), shows it in headless Chromium while it waits (``app-waiting.png``), answers the
wait through the page's form, and shows it completed (``app-completed.png``). Default output:
``docs/img/``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
REPO = TESTS_DIR.parent


def main(out_dir: Path) -> None:
    # A private store, set before anything imports ZenML (its config is read once a process).
    scratch = Path(tempfile.mkdtemp(prefix="kitaru-shots-"))
    os.environ["KITARU_CONFIG_PATH"] = str(scratch / "config")
    os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")
    sys.path.insert(0, str(TESTS_DIR))
    try:
        _shoot(out_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _shoot(out_dir: Path) -> None:
    from _mcp_flows import FLOWS_DIR, new_salt, settle, target
    from _mcp_support import call, data

    from app_harness.harness import AppHost, browser, chromium_path, fill_and_submit, serving
    from kitaru_mcp.server import build_server

    binary = chromium_path()
    if binary is None:
        raise SystemExit("chromium is not installed")
    server = build_server("standard", allow_paths=[FLOWS_DIR])
    arguments = {"target": target("approval_flow"), "args": {"salt": new_salt()[:8]}}
    exec_id = data(call(server, "kitaru_executions_run", arguments))["exec_id"]
    settle(server, exec_id, until=("waiting", "failed", "cancelled"))
    host = AppHost(server, "kitaru_executions_get", {"exec_id": exec_id})
    with serving(host) as base, browser(binary) as page:
        page.open(base + "/")
        page.wait_for("document.getElementById('wait-form') !== null")
        page.in_app("document.getElementById('field-reviewer').value = 'Ada'")
        time.sleep(1.0)  # let the log tail arrive
        page.screenshot(out_dir / "app-waiting.png")
        fill_and_submit(page, {"decision": "approve", "reviewer": "Ada"})
        page.wait_for("document.getElementById('status').textContent === 'completed'")
        time.sleep(1.0)
        page.screenshot(out_dir / "app-completed.png")
    print(f"wrote {out_dir / 'app-waiting.png'} and {out_dir / 'app-completed.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "img")
