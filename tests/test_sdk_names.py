"""The SDK names the seeds promise (``001_…`` "Current status"), and ``connect()``'s guardrails.

``connect`` is checked against bad input and an unreachable server: both are typed errors that
change nothing. (A real connect needs a server; the server tier starts one.)
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import kitaru_core
from kitaru_core.errors import KitaruBackendError, KitaruError, KitaruUsageError

# Every name the seed lists as implemented, plus the models and errors it names.
SEED_NAMES = [
    "flow",
    "checkpoint",
    "log",
    "save",
    "load",
    "wait",
    "llm",
    "connect",
    "configure",
    "list_stacks",
    "current_stack",
    "use_stack",
    "create_stack",
    "delete_stack",
    "KitaruClient",
    "KitaruError",
    "Execution",
    "CheckpointCall",
    "Failure",
]


@pytest.mark.parametrize("name", SEED_NAMES)
def test_every_seed_name_is_importable_from_kitaru_core(name: str) -> None:
    value = getattr(kitaru_core, name)
    assert value is not None
    assert name in kitaru_core.__all__
    assert name in dir(kitaru_core)  # REPL completion lists names not imported yet


def test_all_lists_exactly_the_lazy_exports() -> None:
    exports = kitaru_core._EXPORTS
    assert sorted(kitaru_core.__all__) == sorted(exports)
    for name in kitaru_core.__all__:
        assert getattr(kitaru_core, name).__module__.startswith("kitaru_core")


def test_the_stack_helpers_are_the_sdk_stacks_functions() -> None:
    from kitaru_core import sdk_stacks

    for name in sdk_stacks.__all__:
        assert getattr(kitaru_core, name) is getattr(sdk_stacks, name)


def test_dir_and_the_new_names_import_neither_zenml_nor_litellm() -> None:
    code = (
        "import sys, kitaru_core; names = dir(kitaru_core); "
        "from kitaru_core import connect, list_stacks, use_stack, delete_stack; "
        "assert 'connect' in names and 'list_stacks' in names, names; "
        "assert 'zenml' not in sys.modules and 'litellm' not in sys.modules; print('clean')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"


# ------------------------------------------------------------------------------------ connect


def _closed_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _persisted(config_dir: Path) -> dict[str, str]:
    """The files a connect would change: ZenML's config and the credentials store."""
    return {
        path.name: path.read_text()
        for path in (config_dir / "config.yaml", config_dir / "credentials.yaml")
        if path.exists()
    }


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"server_url": ""}, "server_url"),
        ({"server_url": "   "}, "server_url"),
        ({"server_url": "ftp://kitaru.example.com", "api_key": "k"}, "ftp://"),
        ({"server_url": "kitaru.example.com", "api_key": "k"}, "kitaru.example.com"),
        ({"server_url": "http://", "api_key": "k"}, "http://"),
        ({"server_url": "https://kitaru.example.com:99999", "api_key": "k"}, "99999"),
        ({"server_url": "https://kitaru.example.com", "api_key": " "}, "api_key"),
        ({"server_url": "https://kitaru.example.com", "api_key": "k", "project": ""}, "project"),
        ({"server_url": "https://kitaru.example.com"}, "api_key"),
    ],
)
def test_connect_rejects_bad_arguments_and_changes_nothing(
    zenml_client: Any, session_dir: Path, kwargs: dict[str, Any], field: str
) -> None:
    before = _persisted(session_dir / "config")
    with pytest.raises(KitaruUsageError) as caught:
        kitaru_core.connect(**kwargs)
    error = caught.value
    assert error.code == "usage_error"
    assert field in error.message or field in error.hint
    assert _persisted(session_dir / "config") == before
    assert str(zenml_client.zen_store.config.url).startswith("sqlite:")


def test_connect_to_an_unreachable_server_is_a_backend_error_that_changes_nothing(
    zenml_client: Any, session_dir: Path
) -> None:
    before = _persisted(session_dir / "config")
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(KitaruBackendError) as caught:
        kitaru_core.connect(url, api_key="kitaru-test-key")
    error = caught.value
    assert error.code == "backend_error"
    assert url in error.message and "Cannot reach" in error.message
    assert "kitaru_core.connect" in error.hint  # the SDK's words, not a CLI command
    assert error.details["server_url"] == url
    assert _persisted(session_dir / "config") == before
    assert "kitaru-test-key" not in str(_persisted(session_dir / "config"))
    assert str(zenml_client.zen_store.config.url).startswith("sqlite:")


def test_connect_is_typed_and_documented() -> None:
    import inspect

    signature = inspect.signature(kitaru_core.connect)
    assert list(signature.parameters) == ["server_url", "api_key", "project"]
    assert signature.parameters["api_key"].kind is inspect.Parameter.KEYWORD_ONLY
    assert "kitaru login" in (kitaru_core.connect.__doc__ or "")
    assert issubclass(KitaruBackendError, KitaruError)
