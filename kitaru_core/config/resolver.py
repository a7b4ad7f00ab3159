"""Precedence: which stack, cache, retries and image an execution runs with, and which server
and project Kitaru talks to.

Execution, highest first: invocation → ``@flow`` → ``configure()`` → ``KITARU_*`` env →
``[tool.kitaru]`` → persisted active stack → built-in defaults. Each resolved value remembers its
layer, so the frozen execution spec can say where every setting came from. Nothing here changes
the persisted active stack.

Connection, lowest first: persisted login → ``ZENML_*`` env → ``KITARU_*`` env → ``configure()``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from kitaru_core.config.env import KitaruEnv, read_env
from kitaru_core.config.image import ImageInput, ImageSettings, coerce_image
from kitaru_core.config.masking import mask_mapping, mask_url, mask_value
from kitaru_core.config.project import ProjectConfig, load_project_config
from kitaru_core.errors import KitaruUsageError

LAYERS = ("invocation", "flow", "configure", "env", "project", "active_stack", "default")
_DEFAULTS: dict[str, Any] = {"stack": None, "cache": True, "retries": 0, "image": None}


@dataclass(frozen=True)
class ExecutionOverrides:
    """One layer's partial settings; ``None`` means "not set at this layer"."""

    stack: str | None = None
    cache: bool | None = None
    retries: int | None = None
    image: ImageSettings | None = None

    @classmethod
    def build(
        cls,
        *,
        stack: str | None = None,
        cache: bool | None = None,
        retries: int | None = None,
        image: ImageInput | None = None,
        source: str = "argument",
    ) -> ExecutionOverrides:
        """Validate raw user values into one layer."""
        if stack is not None and (not isinstance(stack, str) or not stack.strip()):
            raise KitaruUsageError(f"{source}: stack must be a non-empty stack name or id.")
        if cache is not None and not isinstance(cache, bool):
            raise KitaruUsageError(f"{source}: cache must be True or False, got {cache!r}.")
        if retries is not None and (
            isinstance(retries, bool) or not isinstance(retries, int) or retries < 0
        ):
            raise KitaruUsageError(
                f"{source}: retries must be a whole number >= 0, got {retries!r}."
            )
        return cls(
            stack=stack.strip() if stack else None,
            cache=cache,
            retries=retries,
            image=coerce_image(image, source=f"{source}: image"),
        )

    def merged_over(self, lower: ExecutionOverrides) -> ExecutionOverrides:
        """This layer on top of ``lower`` (set values win)."""
        updates = {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }
        return replace(lower, **updates)


@dataclass(frozen=True)
class Resolved:
    """A resolved value and the layer it came from (one of ``LAYERS`` / ``CONNECTION_LAYERS``)."""

    value: Any
    source: str


@dataclass(frozen=True)
class ExecutionConfig:
    """The fully resolved settings of one execution, each with the layer it came from."""

    stack: Resolved
    cache: Resolved
    retries: Resolved
    image: Resolved

    def frozen_spec(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON-able ``kitaru_execution_spec`` stored with the execution (secrets masked)."""
        spec: dict[str, Any] = {}
        for name in ("stack", "cache", "retries", "image"):
            item: Resolved = getattr(self, name)
            value = item.value
            if isinstance(value, ImageSettings):
                value = mask_mapping(value.model_dump(mode="json"))
            spec[name] = {"value": value, "source": item.source}
        if extra:
            spec.update(mask_mapping(extra))
        return spec


_configured = ExecutionOverrides()


def configure_defaults(overrides: ExecutionOverrides) -> None:
    """Set process-local defaults (the ``configure`` layer); later calls add to earlier ones."""
    global _configured
    _configured = overrides.merged_over(_configured)


def reset_configured_defaults() -> None:
    """Forget every ``configure()`` call of this process (execution defaults and connection)."""
    global _configured, _configured_connection
    _configured = ExecutionOverrides()
    _configured_connection = ConnectionValues()


def configured_defaults() -> ExecutionOverrides:
    return _configured


def _env_layer(env: KitaruEnv) -> ExecutionOverrides:
    return ExecutionOverrides(
        stack=env.stack, cache=env.cache, retries=env.retries, image=env.image
    )


def _project_layer(project: ProjectConfig) -> ExecutionOverrides:
    return ExecutionOverrides(
        stack=project.stack, cache=project.cache, retries=project.retries, image=project.image
    )


def resolve_execution_config(
    *,
    invocation: ExecutionOverrides | None = None,
    flow: ExecutionOverrides | None = None,
    active_stack: Callable[[], str | None] | None = None,
    env: KitaruEnv | None = None,
    project: ProjectConfig | None = None,
) -> ExecutionConfig:
    """Resolve every setting through the layers; ``active_stack`` is only called if needed."""
    layers: list[tuple[str, ExecutionOverrides]] = [
        ("invocation", invocation or ExecutionOverrides()),
        ("flow", flow or ExecutionOverrides()),
        ("configure", _configured),
        ("env", _env_layer(env if env is not None else read_env())),
        ("project", _project_layer(project if project is not None else load_project_config())),
    ]
    resolved: dict[str, Resolved] = {}
    for name in ("stack", "cache", "retries", "image"):
        for layer, values in layers:
            value = getattr(values, name)
            if value is not None:
                resolved[name] = Resolved(value, layer)
                break
        else:
            resolved[name] = _fallback(name, active_stack)
    return ExecutionConfig(**resolved)


def _fallback(name: str, active_stack: Callable[[], str | None] | None) -> Resolved:
    """Below every explicit layer: the persisted active stack (stack only), then the defaults."""
    # Looking up the active stack needs the store, so it is only done when nothing above set it.
    if name == "stack" and active_stack is not None:
        stack = active_stack()
        if stack:
            return Resolved(stack, "active_stack")
    return Resolved(_DEFAULTS[name], "default")


def configure(
    *,
    stack: str | None = None,
    cache: bool | None = None,
    retries: int | None = None,
    image: ImageInput | None = None,
    project: str | None = None,
) -> None:
    """Set process-local defaults for executions started in this process (the SDK's
    ``configure``); ``project`` is a connection override. Arguments left ``None`` keep their
    earlier value. Validated before anything changes."""
    overrides = ExecutionOverrides.build(
        stack=stack, cache=cache, retries=retries, image=image, source="configure()"
    )
    if project is not None and (not isinstance(project, str) or not project.strip()):
        raise KitaruUsageError(f"configure(): project must be a non-empty name, got {project!r}.")
    configure_defaults(overrides)
    if project is not None:
        configure_connection(project=project.strip())


# ---------------------------------------------------------------------------------------------
# Connection precedence

CONNECTION_LAYERS = ("default", "login", "zenml_env", "kitaru_env", "configure")  # lowest first


@dataclass(frozen=True)
class ConnectionValues:
    """One connection layer; ``None`` means "not set at this layer"."""

    server_url: str | None = None
    api_key: str | None = None
    project: str | None = None


@dataclass(frozen=True)
class ConnectionConfig:
    """Which server (``None``: the local store), credentials and project Kitaru uses."""

    server_url: Resolved
    api_key: Resolved
    project: Resolved

    @property
    def is_remote(self) -> bool:
        return self.server_url.value is not None

    def require_project(self) -> None:
        """Guardrail: a server chosen through ``KITARU_*`` variables needs a project too."""
        if self.server_url.source == "kitaru_env" and not self.project.value:
            raise KitaruUsageError(
                "KITARU_SERVER_URL points at a remote server but KITARU_PROJECT is not set.",
                hint="Set KITARU_PROJECT to the project to work in "
                "(e.g. export KITARU_PROJECT=my-project).",
                details={"missing": "KITARU_PROJECT"},
            )

    def to_dict(self) -> dict[str, Any]:
        """For display: each value with its source, the credential masked."""
        url = self.server_url.value
        return {
            "server_url": {
                "value": mask_url(url) if url else None,
                "source": self.server_url.source,
            },
            "api_key": {"value": mask_value(self.api_key.value), "source": self.api_key.source},
            "project": {"value": self.project.value, "source": self.project.source},
        }


_configured_connection = ConnectionValues()


def configure_connection(
    *, server_url: str | None = None, api_key: str | None = None, project: str | None = None
) -> None:
    """Process-local connection overrides (the top layer); ``None`` keeps the earlier value.

    A new ``server_url`` replaces the earlier credentials: a key belongs to one server.
    """
    global _configured_connection
    current = _configured_connection
    if server_url is not None:
        current = ConnectionValues(server_url=server_url, api_key=api_key, project=current.project)
    elif api_key is not None:
        current = replace(current, api_key=api_key)
    if project is not None:
        current = replace(current, project=project)
    _configured_connection = current


def configured_connection() -> ConnectionValues:
    return _configured_connection


def _zenml_env_layer(environ: Mapping[str, str]) -> ConnectionValues:
    def get(name: str) -> str | None:
        return environ.get(name, "").strip() or None

    return ConnectionValues(
        server_url=get("ZENML_STORE_URL"),
        api_key=get("ZENML_STORE_API_KEY"),
        project=get("ZENML_ACTIVE_PROJECT_ID"),
    )


def resolve_connection(
    *,
    login: ConnectionValues | None = None,
    environ: Mapping[str, str] | None = None,
) -> ConnectionConfig:
    """Resolve server, credentials and project through the connection layers.

    The highest layer that names a server supplies the credentials too (a key from another layer
    belongs to another server), and the project comes from that layer or a higher one.
    ``login`` is the persisted connection (``kitaru login``), read by the backend.
    """
    source_env = os.environ if environ is None else environ
    kitaru = read_env(source_env)
    layers: list[tuple[str, ConnectionValues]] = [
        ("login", login or ConnectionValues()),
        ("zenml_env", _zenml_env_layer(source_env)),
        (
            "kitaru_env",
            ConnectionValues(kitaru.server_url, kitaru.auth_token, kitaru.project),
        ),
        ("configure", _configured_connection),
    ]
    server_index = max(
        (index for index, (_, values) in enumerate(layers) if values.server_url), default=-1
    )
    if server_index >= 0:
        layer, values = layers[server_index]
        server_url = Resolved(values.server_url, layer)
        api_key = Resolved(values.api_key, layer)
    else:
        server_url = api_key = Resolved(None, "default")
    project = Resolved(None, "default")
    for layer, values in layers[max(server_index, 0) :]:
        if values.project:
            project = Resolved(values.project, layer)
    return ConnectionConfig(server_url=server_url, api_key=api_key, project=project)
