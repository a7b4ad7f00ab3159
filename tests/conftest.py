"""Test harness: every test process (each xdist worker) gets its own Kitaru config dir with a
real ZenML SQLite store. It is set before anything imports ZenML, because ZenML's singletons
read their config dir once per process."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="kitaru-tests-"))
os.environ["KITARU_CONFIG_PATH"] = str(_SESSION_DIR / "config")
for _name in list(os.environ):
    # A developer's own connection must never leak into the tests.
    if _name.startswith(("KITARU_SERVER", "KITARU_AUTH", "KITARU_PROJECT", "ZENML_STORE")):
        del os.environ[_name]
os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")

REPO_ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ts_client: the official TypeScript MCP client checks every tool (needs node)"
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def session_dir() -> Path:
    """This test process's private folder (the config dir lives in ``config/`` inside it)."""
    return _SESSION_DIR


@pytest.fixture(scope="session")
def zenml_client():  # type: ignore[no-untyped-def]
    """The real ZenML client on this process's SQLite store (bootstrapped once per process)."""
    from kitaru_core.backend.bootstrap import zenml_client as get_client

    return get_client()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Remove every KITARU_* execution variable for one test (the config path stays)."""
    for name in list(os.environ):
        if name.startswith("KITARU_") and name != "KITARU_CONFIG_PATH":
            monkeypatch.delenv(name)
    yield monkeypatch


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory (no pyproject.toml above it that Kitaru would read)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def store(zenml_client):  # type: ignore[no-untyped-def]
    """The real store, put back to only the ``default`` stack (active) after the test.

    For stack tests: whatever stacks, components and connectors a test created are removed.
    """
    import warnings

    yield zenml_client
    zenml_client.activate_stack("default")
    zen_store = zenml_client.zen_store
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*stack_composition.*")  # a ZenML quirk
        for stack in zenml_client.list_stacks(size=1000).items:
            if stack.name != "default":
                zen_store.delete_stack(stack.id)
    for component in zenml_client.list_stack_components(size=1000).items:
        if component.name != "default":
            zen_store.delete_stack_component(component.id)
    for connector in zenml_client.list_service_connectors(size=1000).items:
        zen_store.delete_service_connector(connector.id)
