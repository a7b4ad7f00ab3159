"""The public ``KITARU_*`` variables: parsing, validation, guardrails and the ZenML mapping.

Pure tests: no ZenML import. ``read_env`` and ``translate`` take a mapping, so most tests pass a
plain dict instead of touching the process environment.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import uuid
from pathlib import Path

import platformdirs
import pytest

from kitaru_core.config import paths, zenml_env
from kitaru_core.config.env import (
    PUBLIC_VARS,
    KitaruEnv,
    active_public_vars,
    debug_enabled,
    read_env,
)
from kitaru_core.config.image import ImageSettings
from kitaru_core.errors import KitaruUsageError

# The variables SPEC §2 and the configuration seed name, plus the log-store overrides of §7.
SPEC_VARS = {
    "KITARU_SERVER_URL",
    "KITARU_AUTH_TOKEN",
    "KITARU_PROJECT",
    "KITARU_STACK",
    "KITARU_CACHE",
    "KITARU_RETRIES",
    "KITARU_IMAGE",
    "KITARU_DEFAULT_MODEL",
    "KITARU_LLM_MOCK_RESPONSE",
    "KITARU_CONFIG_PATH",
    "KITARU_DEBUG",
    "KITARU_ANALYTICS_OPT_IN",
    "KITARU_LOG_STORE_BACKEND",
    "KITARU_LOG_STORE_ENDPOINT",
    "KITARU_LOG_STORE_API_KEY",
}


def _usage_error(environ: dict[str, str]) -> KitaruUsageError:
    with pytest.raises(KitaruUsageError) as info:
        read_env(environ)
    assert info.value.code == "usage_error"
    return info.value


# --- parsing ---------------------------------------------------------------------------------


def test_every_spec_variable_is_public() -> None:
    assert set(PUBLIC_VARS) >= SPEC_VARS


def test_nothing_set_means_every_layer_value_is_unset() -> None:
    env = read_env({})
    assert env == KitaruEnv()
    assert (env.stack, env.cache, env.retries, env.image) == (None, None, None, None)
    # Housekeeping flags are off unless set: analytics is opt-in.
    assert env.debug is False
    assert env.analytics_opt_in is False


def test_every_variable_is_parsed(tmp_path: Path) -> None:
    env = read_env(
        {
            "KITARU_SERVER_URL": "https://kitaru.example.com/",
            "KITARU_AUTH_TOKEN": "kat_abc123456789",
            "KITARU_PROJECT": "my-project",
            "KITARU_STACK": " my-remote-stack ",
            "KITARU_CACHE": "false",
            "KITARU_RETRIES": "2",
            "KITARU_IMAGE": "python:3.12-slim",
            "KITARU_DEFAULT_MODEL": "openai/gpt-4o",
            "KITARU_LLM_MOCK_RESPONSE": "mocked answer",
            "KITARU_CONFIG_PATH": str(tmp_path),
            "KITARU_DEBUG": "true",
            "KITARU_ANALYTICS_OPT_IN": "yes",
            "KITARU_LOG_STORE_BACKEND": "datadog",
            "KITARU_LOG_STORE_ENDPOINT": "https://http-intake.logs.datadoghq.com",
            "KITARU_LOG_STORE_API_KEY": "dd-key",
        }
    )
    assert env == KitaruEnv(
        server_url="https://kitaru.example.com",
        auth_token="kat_abc123456789",
        project="my-project",
        stack="my-remote-stack",
        cache=False,
        retries=2,
        image=ImageSettings(base_image="python:3.12-slim"),
        default_model="openai/gpt-4o",
        llm_mock_response="mocked answer",
        debug=True,
        analytics_opt_in=True,
    )
    # KITARU_CONFIG_PATH is read by ``config.paths`` and KITARU_LOG_STORE_* by
    # ``requests.log_store`` (each where it is used); setting them changes nothing here.


def test_blank_values_count_as_unset() -> None:
    env = read_env(
        {"KITARU_STACK": "  ", "KITARU_CACHE": "", "KITARU_RETRIES": " ", "KITARU_IMAGE": ""}
    )
    assert (env.stack, env.cache, env.retries, env.image) == (None, None, None, None)


def test_reads_the_process_environment_by_default(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KITARU_RETRIES", "5")
    clean_env.setenv("KITARU_STACK", "gpu")
    env = read_env()
    assert (env.retries, env.stack) == (5, "gpu")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("1", True),
        ("YES", True),
        (" on ", True),
        ("false", False),
        ("0", False),
        ("No", False),
        ("OFF", False),
    ],
)
@pytest.mark.parametrize("name", ["KITARU_CACHE", "KITARU_DEBUG", "KITARU_ANALYTICS_OPT_IN"])
def test_boolean_spellings(name: str, raw: str, expected: bool) -> None:
    env = read_env({name: raw})
    attribute = {
        "KITARU_CACHE": "cache",
        "KITARU_DEBUG": "debug",
        "KITARU_ANALYTICS_OPT_IN": "analytics_opt_in",
    }[name]
    assert getattr(env, attribute) is expected


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("KITARU_CACHE", "maybe"),
        ("KITARU_CACHE", "2"),
        ("KITARU_DEBUG", "perhaps"),
        ("KITARU_ANALYTICS_OPT_IN", "sure"),
    ],
)
def test_bad_boolean_names_the_variable_and_the_value(name: str, raw: str) -> None:
    error = _usage_error({name: raw})
    assert name in error.message
    assert repr(raw) in error.message
    assert error.details == {"variable": name, "value": raw}
    assert name in error.hint


@pytest.mark.parametrize(("raw", "expected"), [("0", 0), ("3", 3), (" 2 ", 2), ("10", 10)])
def test_retries_accepts_whole_numbers(raw: str, expected: int) -> None:
    assert read_env({"KITARU_RETRIES": raw}).retries == expected


@pytest.mark.parametrize("raw", ["abc", "-1", "1.5", "2 retries", "true"])
def test_bad_retries_names_the_variable_and_the_value(raw: str) -> None:
    error = _usage_error({"KITARU_RETRIES": raw})
    assert "KITARU_RETRIES" in error.message
    assert repr(raw) in error.message
    assert error.details == {"variable": "KITARU_RETRIES", "value": raw}


def test_image_as_plain_string_is_a_base_image() -> None:
    env = read_env({"KITARU_IMAGE": "ghcr.io/acme/agent:1.2"})
    assert env.image == ImageSettings(base_image="ghcr.io/acme/agent:1.2")


def test_image_as_json_object() -> None:
    raw = '{"requirements": ["httpx"], "apt_packages": ["git"], "environment": {"A": "1"}}'
    env = read_env({"KITARU_IMAGE": raw})
    assert env.image == ImageSettings(
        requirements=["httpx"], apt_packages=["git"], environment={"A": "1"}
    )


def test_broken_image_json_names_the_variable() -> None:
    error = _usage_error({"KITARU_IMAGE": '{"base_image": "python:3.12"'})
    assert "KITARU_IMAGE" in error.message
    assert "not valid JSON" in error.message


# --- connection guardrails -------------------------------------------------------------------


def test_server_url_without_token_is_refused() -> None:
    error = _usage_error({"KITARU_SERVER_URL": "https://kitaru.example.com"})
    assert "KITARU_SERVER_URL" in error.message
    assert "KITARU_AUTH_TOKEN" in error.message
    assert error.details["missing"] == "KITARU_AUTH_TOKEN"


def test_token_without_server_url_is_refused_and_not_echoed() -> None:
    error = _usage_error({"KITARU_AUTH_TOKEN": "kat_supersecret_value"})
    assert error.details["missing"] == "KITARU_SERVER_URL"
    assert "KITARU_AUTH_TOKEN" in error.message
    assert "supersecret" not in str(error.to_dict())


def test_blank_token_counts_as_missing() -> None:
    error = _usage_error(
        {"KITARU_SERVER_URL": "https://kitaru.example.com", "KITARU_AUTH_TOKEN": " "}
    )
    assert error.details["missing"] == "KITARU_AUTH_TOKEN"


def test_url_and_token_together_are_accepted() -> None:
    env = read_env({"KITARU_SERVER_URL": "http://127.0.0.1:8080", "KITARU_AUTH_TOKEN": "kat_x"})
    assert (env.server_url, env.auth_token) == ("http://127.0.0.1:8080", "kat_x")


@pytest.mark.parametrize("url", ["kitaru.example.com", "localhost:8080", "ftp://host", "https://"])
def test_server_url_must_be_http(url: str) -> None:
    error = _usage_error({"KITARU_SERVER_URL": url, "KITARU_AUTH_TOKEN": "kat_x"})
    assert "KITARU_SERVER_URL" in error.message
    assert repr(url) in error.message


def test_server_url_error_hides_an_embedded_password() -> None:
    error = _usage_error({"KITARU_SERVER_URL": "ftp://me:hunter2@host", "KITARU_AUTH_TOKEN": "k"})
    assert "hunter2" not in str(error.to_dict())


def test_active_public_vars_lists_only_set_kitaru_variables() -> None:
    active = active_public_vars(
        {"KITARU_STACK": "gpu", "KITARU_CACHE": "", "ZENML_STORE_URL": "x", "HOME": "/h"}
    )
    assert active == {"KITARU_STACK": "gpu"}


# --- config directory ------------------------------------------------------------------------


def test_config_dir_follows_the_variable_at_once_and_is_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    monkeypatch.setenv("KITARU_CONFIG_PATH", str(first))
    assert paths.config_dir() == first.resolve()
    monkeypatch.setenv("KITARU_CONFIG_PATH", str(second))
    assert paths.config_dir() == second.resolve()
    assert paths.settings_path() == second.resolve() / "kitaru.yaml"
    assert paths.local_stores_dir() == second.resolve() / "local_stores"
    assert not second.exists()
    assert paths.ensure_config_dir() == second.resolve()
    assert second.is_dir()


def test_config_dir_defaults_to_the_platform_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KITARU_CONFIG_PATH")
    expected = Path(platformdirs.user_config_dir("kitaru", appauthor=False))
    assert paths.config_dir() == expected
    assert expected.name == "kitaru"


# --- ZenML mapping ---------------------------------------------------------------------------


def _translated(environ: dict[str, str]) -> dict[str, str]:
    result = dict(environ)
    zenml_env.translate(result)
    return result


def test_config_path_becomes_zenml_config_path(tmp_path: Path) -> None:
    result = _translated({"KITARU_CONFIG_PATH": str(tmp_path / "kit")})
    assert result["ZENML_CONFIG_PATH"] == str((tmp_path / "kit").resolve())


def test_zenml_config_path_matches_the_kitaru_config_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hook and paths.config_dir() must agree, symlinks included.
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    monkeypatch.setenv("KITARU_CONFIG_PATH", str(tmp_path / "link"))
    result = _translated(dict(os.environ))
    assert Path(result["ZENML_CONFIG_PATH"]) == paths.config_dir() == real.resolve()


def test_config_path_expands_the_home_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    result = _translated({"KITARU_CONFIG_PATH": "~/.kit"})
    assert result["ZENML_CONFIG_PATH"] == str(tmp_path.resolve() / ".kit")


def test_without_config_path_zenml_uses_the_kitaru_platform_dir() -> None:
    # Never ~/.config/zenml: even a directly set ZENML_CONFIG_PATH is replaced.
    result = _translated({"ZENML_CONFIG_PATH": "/somewhere/zenml"})
    assert result["ZENML_CONFIG_PATH"] == platformdirs.user_config_dir("kitaru", appauthor=False)


def test_connection_variables_are_mapped() -> None:
    project_id = str(uuid.uuid4())
    result = _translated(
        {
            "KITARU_SERVER_URL": "https://kitaru.example.com",
            "KITARU_AUTH_TOKEN": "kat_abc",
            "KITARU_PROJECT": project_id,
        }
    )
    assert result["ZENML_STORE_URL"] == "https://kitaru.example.com"
    assert result["ZENML_STORE_API_KEY"] == "kat_abc"
    assert result["ZENML_ACTIVE_PROJECT_ID"] == project_id


def test_project_name_is_left_for_the_backend_to_resolve() -> None:
    # ZenML 0.98 parses ZENML_ACTIVE_PROJECT_ID as a UUID on repeated access, so a name must not
    # land there; the backend turns it into an id once the store is reachable.
    result = _translated({"KITARU_PROJECT": "my-project"})
    assert "ZENML_ACTIVE_PROJECT_ID" not in result
    assert zenml_env.project_name_to_resolve(result) == "my-project"
    assert zenml_env.project_name_to_resolve({"KITARU_PROJECT": str(uuid.uuid4())}) is None
    assert zenml_env.project_name_to_resolve({}) is None


def test_kitaru_variables_win_over_zenml_ones() -> None:
    project_id = str(uuid.uuid4())
    result = _translated(
        {
            "ZENML_STORE_URL": "https://zenml.example.com",
            "ZENML_STORE_API_KEY": "zenml-key",
            "ZENML_ACTIVE_PROJECT_ID": str(uuid.uuid4()),
            "ZENML_ANALYTICS_OPT_IN": "true",
            "KITARU_SERVER_URL": "https://kitaru.example.com",
            "KITARU_AUTH_TOKEN": "kat_abc",
            "KITARU_PROJECT": project_id,
            "KITARU_ANALYTICS_OPT_IN": "false",
        }
    )
    assert result["ZENML_STORE_URL"] == "https://kitaru.example.com"
    assert result["ZENML_STORE_API_KEY"] == "kat_abc"
    assert result["ZENML_ACTIVE_PROJECT_ID"] == project_id
    assert result["ZENML_ANALYTICS_OPT_IN"] == "false"


def test_zenml_variables_alone_are_still_honoured() -> None:
    direct = {
        "ZENML_STORE_URL": "https://zenml.example.com",
        "ZENML_STORE_API_KEY": "zenml-key",
        "ZENML_ACTIVE_PROJECT_ID": str(uuid.uuid4()),
        "ZENML_ANALYTICS_OPT_IN": "true",
        "ZENML_DISABLE_INTERACTIVE_INPUT": "false",
    }
    result = _translated(direct)
    assert {name: result[name] for name in direct} == direct


def test_analytics_off_by_default_and_on_when_opted_in() -> None:
    assert _translated({})["ZENML_ANALYTICS_OPT_IN"] == "false"
    assert _translated({"KITARU_ANALYTICS_OPT_IN": "true"})["ZENML_ANALYTICS_OPT_IN"] == "true"
    assert _translated({"KITARU_ANALYTICS_OPT_IN": "0"})["ZENML_ANALYTICS_OPT_IN"] == "false"


def test_quiet_non_interactive_defaults() -> None:
    result = _translated({})
    assert result["ZENML_DISABLE_INTERACTIVE_INPUT"] == "true"
    assert result["ZENML_AUTO_OPEN_DASHBOARD"] == "false"


def test_debug_turns_on_zenml_debug_output() -> None:
    result = _translated({"KITARU_DEBUG": "1"})
    assert result["ZENML_LOGGING_VERBOSITY"] == "DEBUG"
    assert result["ZENML_DEBUG"] == "true"
    # Without debug, ZenML's own INFO lines stay hidden (Kitaru prints its own progress).
    assert _translated({"KITARU_DEBUG": "false"})["ZENML_LOGGING_VERBOSITY"] == "WARNING"
    assert _translated({"ZENML_LOGGING_VERBOSITY": "INFO"})["ZENML_LOGGING_VERBOSITY"] == "INFO"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        (" YES ", True),
        ("On", True),
        ("0", False),
        ("false", False),
        ("off", False),
        ("", False),
        ("maybe", False),  # never raises: read_env is the one that reports a bad value
    ],
)
def test_debug_enabled_reads_kitaru_debug(raw: str, expected: bool) -> None:
    assert debug_enabled({"KITARU_DEBUG": raw}) is expected
    assert debug_enabled({}) is False
    # The one parser agrees with the strict one wherever the strict one accepts the value.
    if raw.strip().lower() not in {"", "maybe"}:
        assert read_env({"KITARU_DEBUG": raw}).debug is expected


def test_debug_enabled_reads_the_process_environment_by_default(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("KITARU_DEBUG", "yes")
    assert debug_enabled() is True
    clean_env.setenv("KITARU_DEBUG", "no")
    assert debug_enabled() is False


def test_the_env_module_is_light_enough_for_the_hook() -> None:
    # The hook may ask ``debug_enabled``: importing it must load neither ZenML nor pydantic.
    script = (
        "import sys\n"
        "from kitaru_core.config.env import debug_enabled\n"
        "print(sorted(m for m in ('zenml', 'pydantic', 'litellm') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_translate_never_raises_and_is_idempotent() -> None:
    # It runs inside ``import zenml``; bad values are reported later by read_env.
    broken = {"KITARU_CACHE": "maybe", "KITARU_ANALYTICS_OPT_IN": "perhaps", "KITARU_RETRIES": "x"}
    once = _translated(broken)
    assert once["ZENML_ANALYTICS_OPT_IN"] == "false"
    assert _translated(once) == once


def test_apply_translates_the_process_environment(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    saved = dict(os.environ)
    clean_env.setenv("KITARU_CONFIG_PATH", str(tmp_path))
    clean_env.setenv("KITARU_SERVER_URL", "https://kitaru.example.com")
    clean_env.setenv("KITARU_AUTH_TOKEN", "kat_abc")
    try:
        zenml_env.apply()
        assert os.environ["ZENML_CONFIG_PATH"] == str(tmp_path.resolve())
        assert os.environ["ZENML_STORE_URL"] == "https://kitaru.example.com"
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_the_hook_imports_neither_zenml_nor_kitaru_core() -> None:
    # It runs first inside ``import zenml``: importing either would recurse or slow every start.
    # The one exception is the light env module, for the one KITARU_DEBUG parser.
    tree = ast.parse(Path(zenml_env.__file__).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            light = node.module == "kitaru_core.config.env"
            imported.add(node.module if light else node.module.split(".")[0])
    allowed = {"__future__", "os", "uuid", "collections", "platformdirs", "kitaru_core.config.env"}
    assert imported <= allowed
