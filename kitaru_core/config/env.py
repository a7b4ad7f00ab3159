"""The public ``KITARU_*`` environment variables: parsing, validation and ZenML mapping."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from kitaru_core.config.masking import mask_url
from kitaru_core.errors import KitaruUsageError

if TYPE_CHECKING:
    from kitaru_core.config.image import ImageSettings

PUBLIC_VARS = (
    "KITARU_SERVER_URL",
    "KITARU_AUTH_TOKEN",
    "KITARU_PROJECT",
    "KITARU_STACK",
    "KITARU_CACHE",
    "KITARU_RETRIES",
    "KITARU_IMAGE",
    "KITARU_IMAGE_REQUIREMENT",
    "KITARU_DEFAULT_MODEL",
    "KITARU_LLM_MOCK_RESPONSE",
    "KITARU_CONFIG_PATH",
    "KITARU_DEBUG",
    "KITARU_ANALYTICS_OPT_IN",
    "KITARU_LOG_STORE_BACKEND",
    "KITARU_LOG_STORE_ENDPOINT",
    "KITARU_LOG_STORE_API_KEY",
)

_URL = "KITARU_SERVER_URL"

# The execution engine Kitaru runs on, as users know it, and the distribution that installs it:
# the one place the surfaces and services take the engine's name from.
ENGINE = "ZenML"
ENGINE_DISTRIBUTION = "zenml"
# The engine's own variable naming a server; honoured below ``KITARU_SERVER_URL``.
ENGINE_SERVER_URL_VAR = "ZENML_STORE_URL"
# The variables that name a server (each wins over a persisted login in new processes).
SERVER_URL_VARS = (_URL, ENGINE_SERVER_URL_VAR)
# The variables that, when set, choose a server connection over a persisted login.
SERVER_VARS = (_URL, "KITARU_AUTH_TOKEN", ENGINE_SERVER_URL_VAR)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def debug_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``KITARU_DEBUG`` turns debug output on: the one reading of that variable.

    Never raises, because it is asked while reporting other errors and while logging is set
    up: a value that is not a true word means off (``read_env`` reports a malformed one).
    """
    env = os.environ if environ is None else environ
    return env.get("KITARU_DEBUG", "").strip().lower() in _TRUE


def parse_bool(raw: str, *, name: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise KitaruUsageError(
        f"{name} must be true or false, got {raw!r}.",
        hint=f"Set {name} to one of: true, false, 1, 0, yes, no, on, off — or unset it.",
        details={"variable": name, "value": raw},
    )


def parse_server_url(raw: str, *, name: str) -> str:
    """A server URL must be http(s); anything else would only fail later inside ZenML."""
    value = raw.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise KitaruUsageError(
            f"{name} must be an http:// or https:// URL, got {mask_url(raw)!r}.",
            hint=f"Set {name} to the server's address, e.g. https://my-server.example.com.",
            details={"variable": name, "value": mask_url(raw)},
        )
    return value


def parse_retries(raw: str, *, name: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise KitaruUsageError(
            f"{name} must be a whole number of retries (0 or more), got {raw!r}.",
            hint=f"Set {name} to e.g. 2, or unset it.",
            details={"variable": name, "value": raw},
        )
    return value


@dataclass(frozen=True)
class KitaruEnv:
    """The parsed ``KITARU_*`` variables; ``None`` means unset (or blank)."""

    server_url: str | None = None
    auth_token: str | None = None
    project: str | None = None
    stack: str | None = None
    cache: bool | None = None
    retries: int | None = None
    image: ImageSettings | None = None
    default_model: str | None = None
    llm_mock_response: str | None = None
    debug: bool = False
    analytics_opt_in: bool = False


def _get(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def read_env(environ: Mapping[str, str] | None = None) -> KitaruEnv:
    """Parse and validate the ``KITARU_*`` variables of the configuration layers; a bad value
    is a usage error. ``KITARU_CONFIG_PATH`` and ``KITARU_LOG_STORE_*`` are read where they are
    used (``config.paths``, ``requests.log_store``)."""
    # Imported here: pydantic (behind the image settings) is the only heavy import of this
    # module, and ``debug_enabled`` must stay cheap for the processes that only ask that.
    from kitaru_core.config.image import coerce_image

    env = os.environ if environ is None else environ
    server_url = _get(env, _URL)
    cache = _get(env, "KITARU_CACHE")
    retries = _get(env, "KITARU_RETRIES")
    debug = _get(env, "KITARU_DEBUG")
    analytics = _get(env, "KITARU_ANALYTICS_OPT_IN")
    parsed = KitaruEnv(
        server_url=None if server_url is None else parse_server_url(server_url, name=_URL),
        auth_token=_get(env, "KITARU_AUTH_TOKEN"),
        project=_get(env, "KITARU_PROJECT"),
        stack=_get(env, "KITARU_STACK"),
        cache=None if cache is None else parse_bool(cache, name="KITARU_CACHE"),
        retries=None if retries is None else parse_retries(retries, name="KITARU_RETRIES"),
        image=coerce_image(_get(env, "KITARU_IMAGE"), source="KITARU_IMAGE"),
        default_model=_get(env, "KITARU_DEFAULT_MODEL"),
        llm_mock_response=env.get("KITARU_LLM_MOCK_RESPONSE"),
        debug=False if debug is None else parse_bool(debug, name="KITARU_DEBUG"),
        analytics_opt_in=(
            False if analytics is None else parse_bool(analytics, name="KITARU_ANALYTICS_OPT_IN")
        ),
    )
    check_connection_pair(parsed)
    return parsed


def check_connection_pair(env: KitaruEnv) -> None:
    """Guardrail: ``KITARU_SERVER_URL`` and ``KITARU_AUTH_TOKEN`` come together."""
    if bool(env.server_url) != bool(env.auth_token):
        missing = "KITARU_AUTH_TOKEN" if env.server_url else "KITARU_SERVER_URL"
        present = "KITARU_SERVER_URL" if env.server_url else "KITARU_AUTH_TOKEN"
        raise KitaruUsageError(
            f"{present} is set but {missing} is not; they must be set together.",
            hint=f"Set {missing} as well, or unset {present} to use the local store.",
            details={"missing": missing},
        )


def active_public_vars(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``KITARU_*`` variables that are set, for status displays (mask before showing)."""
    env = os.environ if environ is None else environ
    return {name: env[name] for name in sorted(env) if name.startswith("KITARU_") and env[name]}
