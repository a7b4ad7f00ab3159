"""Execution and connection precedence, exactly as the configuration seed describes it.

Execution, highest first: invocation → ``@flow`` → ``configure()`` → ``KITARU_*`` env →
``[tool.kitaru]`` → persisted active stack → built-in defaults (``cache=True``, ``retries=0``).
Connection, lowest first: persisted login → ``ZENML_*`` → ``KITARU_*`` → ``configure()``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kitaru_core.config import resolver
from kitaru_core.config.env import read_env
from kitaru_core.config.image import ImageSettings
from kitaru_core.config.project import ProjectConfig
from kitaru_core.config.resolver import (
    ConnectionValues,
    ExecutionOverrides,
    Resolved,
    configure,
    configure_connection,
    resolve_connection,
    resolve_execution_config,
)
from kitaru_core.errors import KitaruUsageError


@pytest.fixture(autouse=True)
def _isolated_configure() -> Iterator[None]:
    resolver.reset_configured_defaults()
    yield
    resolver.reset_configured_defaults()


class ActiveStack:
    """Stands in for the persisted active stack lookup; records whether it was asked."""

    def __init__(self, name: str | None = "default") -> None:
        self.name = name
        self.calls = 0

    def __call__(self) -> str | None:
        self.calls += 1
        return self.name


def _layers(
    *,
    invocation: dict[str, object] | None = None,
    flow: dict[str, object] | None = None,
    configured: dict[str, object] | None = None,
    env: dict[str, str] | None = None,
    project: dict[str, object] | None = None,
    active_stack: Callable[[], str | None] | None = None,
) -> resolver.ExecutionConfig:
    """Resolve with every layer given explicitly (nothing read from the machine)."""
    if configured:
        configure(**configured)  # type: ignore[arg-type]
    return resolve_execution_config(
        invocation=ExecutionOverrides.build(**(invocation or {})),  # type: ignore[arg-type]
        flow=ExecutionOverrides.build(**(flow or {})),  # type: ignore[arg-type]
        env=read_env(env or {}),
        project=ProjectConfig(path=Path("pyproject.toml"), values=dict(project or {})),
        active_stack=active_stack,
    )


# --- execution precedence --------------------------------------------------------------------


def test_built_in_defaults() -> None:
    config = _layers()
    assert config.cache == Resolved(True, "default")
    assert config.retries == Resolved(0, "default")
    assert config.stack == Resolved(None, "default")
    assert config.image == Resolved(None, "default")


def test_the_seed_example() -> None:
    # @flow(cache=True, retries=2, stack="gpu-cluster")
    # my_flow.run("kitaru", retries=3, stack="prod-cluster")
    config = _layers(
        flow={"cache": True, "retries": 2, "stack": "gpu-cluster"},
        invocation={"retries": 3, "stack": "prod-cluster"},
    )
    assert config.retries == Resolved(3, "invocation")
    assert config.stack == Resolved("prod-cluster", "invocation")
    assert config.cache == Resolved(True, "flow")


ALL_LAYERS: dict[str, dict[str, object]] = {
    "invocation": {"stack": "s-invocation", "retries": 6, "cache": False},
    "flow": {"stack": "s-flow", "retries": 5, "cache": True},
    "configure": {"stack": "s-configure", "retries": 4, "cache": False},
    "env": {"KITARU_STACK": "s-env", "KITARU_RETRIES": "3", "KITARU_CACHE": "true"},
    "project": {"stack": "s-project", "retries": 2, "cache": False},
}
EXPECTED_BY_LAYER = {
    "invocation": ("s-invocation", 6, False),
    "flow": ("s-flow", 5, True),
    "configure": ("s-configure", 4, False),
    "env": ("s-env", 3, True),
    "project": ("s-project", 2, False),
}


@pytest.mark.parametrize("top", list(ALL_LAYERS))
def test_each_layer_beats_every_layer_below_it(top: str) -> None:
    order = list(ALL_LAYERS)
    present = order[order.index(top) :]
    stack = ActiveStack("persisted")
    config = _layers(
        invocation=ALL_LAYERS["invocation"] if "invocation" in present else None,
        flow=ALL_LAYERS["flow"] if "flow" in present else None,
        configured=ALL_LAYERS["configure"] if "configure" in present else None,
        env=ALL_LAYERS["env"] if "env" in present else None,  # type: ignore[arg-type]
        project=ALL_LAYERS["project"] if "project" in present else None,
        active_stack=stack,
    )
    assert (config.stack.value, config.retries.value, config.cache.value) == EXPECTED_BY_LAYER[top]
    assert {config.stack.source, config.retries.source, config.cache.source} == {top}
    assert stack.calls == 0


def test_values_come_from_different_layers_independently() -> None:
    config = _layers(
        invocation={"stack": "prod"},
        flow={"retries": 2},
        configured={"image": "python:3.12-slim"},
        env={"KITARU_CACHE": "false"},
    )
    assert config.stack == Resolved("prod", "invocation")
    assert config.retries == Resolved(2, "flow")
    assert config.image == Resolved(ImageSettings(base_image="python:3.12-slim"), "configure")
    assert config.cache == Resolved(False, "env")


def test_false_and_zero_are_real_values_not_unset() -> None:
    config = _layers(invocation={"cache": False, "retries": 0}, flow={"cache": True, "retries": 3})
    assert config.cache == Resolved(False, "invocation")
    assert config.retries == Resolved(0, "invocation")


def test_active_stack_is_the_fallback_for_stack_only() -> None:
    stack = ActiveStack("persisted")
    config = _layers(active_stack=stack)
    assert config.stack == Resolved("persisted", "active_stack")
    assert config.retries == Resolved(0, "default")
    assert stack.calls == 1


@pytest.mark.parametrize(
    "layer",
    [
        {"invocation": {"stack": "a"}},
        {"flow": {"stack": "a"}},
        {"configured": {"stack": "a"}},
        {"env": {"KITARU_STACK": "a"}},
        {"project": {"stack": "a"}},
    ],
)
def test_active_stack_is_not_looked_up_when_a_higher_layer_sets_stack(
    layer: dict[str, dict[str, object]],
) -> None:
    stack = ActiveStack("persisted")
    config = _layers(active_stack=stack, **layer)  # type: ignore[arg-type]
    assert config.stack.value == "a"
    assert stack.calls == 0


def test_no_active_stack_falls_back_to_the_default() -> None:
    config = _layers(active_stack=ActiveStack(None))
    assert config.stack == Resolved(None, "default")


def test_env_and_project_are_read_from_the_machine_when_not_given(
    clean_env: pytest.MonkeyPatch, project_dir: Path
) -> None:
    (project_dir / "pyproject.toml").write_text(
        '[tool.kitaru]\nstack = "from-pyproject"\nretries = 4\ncache = false\n', encoding="utf-8"
    )
    clean_env.setenv("KITARU_RETRIES", "1")
    config = resolve_execution_config()
    assert config.stack == Resolved("from-pyproject", "project")
    assert config.retries == Resolved(1, "env")
    assert config.cache == Resolved(False, "project")


def test_a_bad_env_value_stops_resolution(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KITARU_CACHE", "maybe")
    with pytest.raises(KitaruUsageError, match="KITARU_CACHE"):
        resolve_execution_config(project=ProjectConfig())


# --- configure() -----------------------------------------------------------------------------


def test_configure_calls_accumulate_and_reset_forgets_them() -> None:
    configure(stack="local", cache=False)
    configure(retries=1)
    assert resolver.configured_defaults() == ExecutionOverrides(
        stack="local", cache=False, retries=1
    )
    configure(stack="other")
    assert resolver.configured_defaults().stack == "other"
    assert resolver.configured_defaults().cache is False
    resolver.reset_configured_defaults()
    assert resolver.configured_defaults() == ExecutionOverrides()


def test_configure_takes_the_seed_image_settings() -> None:
    configure(
        image=ImageSettings(
            base_image="python:3.12-slim", environment={"OPENAI_API_KEY": "{{ OPENAI_KEY }}"}
        )
    )
    assert resolver.configured_defaults().image == ImageSettings(
        base_image="python:3.12-slim", environment={"OPENAI_API_KEY": "{{ OPENAI_KEY }}"}
    )


@pytest.mark.parametrize(
    "arguments",
    [
        {"stack": "  "},
        {"cache": "no"},
        {"retries": -1},
        {"retries": 1.5},
        {"retries": True},
        {"stack": "changed", "retries": "2"},
        {"image": '{"base_image": '},
        {"project": " "},
    ],
)
def test_configure_rejects_bad_values_and_changes_nothing(arguments: dict[str, object]) -> None:
    configure(stack="kept")
    with pytest.raises(KitaruUsageError) as info:
        configure(**{"retries": 9, **arguments})  # type: ignore[arg-type]
    assert info.value.code == "usage_error"
    assert resolver.configured_defaults() == ExecutionOverrides(stack="kept")
    assert resolver.configured_connection() == ConnectionValues()


def test_build_names_the_layer_in_errors() -> None:
    with pytest.raises(KitaruUsageError, match=r"@flow\(\): retries"):
        ExecutionOverrides.build(retries=-2, source="@flow()")


# --- frozen execution spec -------------------------------------------------------------------


def test_frozen_spec_records_values_and_sources_with_secrets_masked() -> None:
    config = _layers(
        invocation={"stack": "prod"},
        configured={
            "image": ImageSettings(
                requirements=["httpx"],
                environment={"OPENAI_API_KEY": "sk-live-1234567890abcdef", "REGION": "eu"},
            )
        },
    )
    spec = config.frozen_spec({"flow": "my_flow", "server": {"api_key": "kat_0123456789abc"}})
    assert spec["stack"] == {"value": "prod", "source": "invocation"}
    assert spec["cache"] == {"value": True, "source": "default"}
    assert spec["retries"] == {"value": 0, "source": "default"}
    assert spec["image"]["source"] == "configure"
    environment = spec["image"]["value"]["environment"]
    assert environment["REGION"] == "eu"
    assert environment["OPENAI_API_KEY"] == "sk-l****"
    assert spec["flow"] == "my_flow"
    assert spec["server"]["api_key"] == "kat_****"
    text = json.dumps(spec)  # JSON-able, and no secret survives anywhere in it
    assert "1234567890abcdef" not in text
    assert "0123456789abc" not in text


# --- connection precedence -------------------------------------------------------------------

LOGIN = ConnectionValues("https://login.example.com", "login-key", "login-project")
ZENML = {
    "ZENML_STORE_URL": "https://zenml.example.com",
    "ZENML_STORE_API_KEY": "zenml-key",
    "ZENML_ACTIVE_PROJECT_ID": "zenml-project",
}
KITARU = {
    "KITARU_SERVER_URL": "https://kitaru.example.com",
    "KITARU_AUTH_TOKEN": "kitaru-key",
    "KITARU_PROJECT": "kitaru-project",
}


def _connection(**parts: object) -> tuple[str | None, str | None, str | None]:
    config = resolve_connection(**parts)  # type: ignore[arg-type]
    return config.server_url.value, config.api_key.value, config.project.value


def test_no_connection_means_the_local_store() -> None:
    config = resolve_connection(environ={})
    assert config.is_remote is False
    assert config.server_url == Resolved(None, "default")
    config.require_project()  # the local store needs no project


def test_persisted_login_is_the_lowest_layer() -> None:
    config = resolve_connection(login=LOGIN, environ={})
    assert config.server_url == Resolved("https://login.example.com", "login")
    assert config.project == Resolved("login-project", "login")


def test_zenml_variables_beat_the_persisted_login() -> None:
    assert _connection(login=LOGIN, environ=ZENML) == (
        "https://zenml.example.com",
        "zenml-key",
        "zenml-project",
    )


def test_kitaru_variables_beat_zenml_variables_and_login() -> None:
    config = resolve_connection(login=LOGIN, environ={**ZENML, **KITARU})
    assert config.server_url == Resolved("https://kitaru.example.com", "kitaru_env")
    assert config.api_key == Resolved("kitaru-key", "kitaru_env")
    assert config.project == Resolved("kitaru-project", "kitaru_env")


def test_configure_is_the_highest_connection_layer() -> None:
    configure_connection(server_url="https://configured.example.com", api_key="conf-key")
    configure(project="configured-project")
    config = resolve_connection(login=LOGIN, environ={**ZENML, **KITARU})
    assert config.server_url == Resolved("https://configured.example.com", "configure")
    assert config.api_key == Resolved("conf-key", "configure")
    assert config.project == Resolved("configured-project", "configure")


def test_credentials_never_mix_servers() -> None:
    # A key belongs to the server of its own layer, never to the server of a higher one.
    configure_connection(server_url="https://configured.example.com")
    config = resolve_connection(environ=KITARU)
    assert config.api_key == Resolved(None, "configure")


def test_a_project_from_below_the_server_layer_is_not_carried_over() -> None:
    environ = {"KITARU_SERVER_URL": "https://k.example.com", "KITARU_AUTH_TOKEN": "k"}
    config = resolve_connection(login=LOGIN, environ=environ)
    assert config.project == Resolved(None, "default")


def test_remote_server_from_kitaru_env_requires_a_project() -> None:
    environ = {"KITARU_SERVER_URL": "https://k.example.com", "KITARU_AUTH_TOKEN": "k"}
    config = resolve_connection(environ=environ)
    with pytest.raises(KitaruUsageError) as info:
        config.require_project()
    assert "KITARU_PROJECT" in info.value.message
    assert info.value.details == {"missing": "KITARU_PROJECT"}


def test_configure_project_satisfies_the_project_guardrail() -> None:
    configure(project="configured-project")
    environ = {"KITARU_SERVER_URL": "https://k.example.com", "KITARU_AUTH_TOKEN": "k"}
    config = resolve_connection(environ=environ)
    config.require_project()
    assert config.project == Resolved("configured-project", "configure")


def test_connection_resolution_applies_the_pairing_guardrail() -> None:
    with pytest.raises(KitaruUsageError, match="KITARU_AUTH_TOKEN"):
        resolve_connection(environ={"KITARU_SERVER_URL": "https://k.example.com"})


def test_connection_display_masks_the_credential() -> None:
    config = resolve_connection(
        environ={
            "KITARU_SERVER_URL": "https://me:pw@k.example.com",
            "KITARU_AUTH_TOKEN": "kat_abcdefghijklmnop",
            "KITARU_PROJECT": "p",
        }
    )
    shown = config.to_dict()
    assert shown["api_key"] == {"value": "kat_****", "source": "kitaru_env"}
    assert shown["server_url"]["value"] == "https://me:****@k.example.com"
    assert "abcdefghijklmnop" not in json.dumps(shown)
