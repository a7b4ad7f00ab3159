"""Translate the public ``KITARU_*`` variables into the ``ZENML_*`` ones the runtime reads.

Registered as a ``zenml.init_hooks`` entry point, so it runs first inside ``import zenml`` in
every process (including detached workers and remote containers). It must stay import-light:
standard library and platformdirs only — never zenml, never the rest of kitaru_core.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, MutableMapping

from kitaru_core.config.env import debug_enabled

_TRUE = {"1", "true", "yes", "on"}

# KITARU_* name → ZENML_* name; the Kitaru value wins over a directly set ZenML one.
_DIRECT = {
    "KITARU_SERVER_URL": "ZENML_STORE_URL",
    "KITARU_AUTH_TOKEN": "ZENML_STORE_API_KEY",
}
# ZenML 0.98 compares ZENML_ACTIVE_PROJECT_ID with ``UUID(value)`` on every access after the
# first, so a project *name* there crashes the second lookup. Only a project id is mapped here;
# a name is resolved to its id by the backend once the store is reachable (see
# :func:`project_name_to_resolve`).
_PROJECT = ("KITARU_PROJECT", "ZENML_ACTIVE_PROJECT_ID")

# Quiet, non-interactive defaults that change no behaviour under Kitaru's control.
_DEFAULTS = {
    "ZENML_ANALYTICS_OPT_IN": "false",
    "ZENML_DISABLE_INTERACTIVE_INPUT": "true",
    "ZENML_AUTO_OPEN_DASHBOARD": "false",
    "ZENML_ENABLE_REPO_INIT_WARNINGS": "false",
    "ZENML_DISABLE_CLIENT_SERVER_MISMATCH_WARNING": "true",
    # ZenML would install rich's traceback hook for the whole process; users see their own.
    "ZENML_ENABLE_RICH_TRACEBACK": "false",
    # Kitaru prints its own progress lines; ZenML's internal INFO lines only with KITARU_DEBUG.
    "ZENML_LOGGING_VERBOSITY": "WARNING",
}


def _config_dir(environ: MutableMapping[str, str]) -> str:
    override = environ.get("KITARU_CONFIG_PATH", "").strip()
    if override:
        # realpath, like ``Path.resolve()`` in paths.config_dir(): both must name the same folder.
        return os.path.realpath(os.path.expanduser(override))
    import platformdirs

    return platformdirs.user_config_dir("kitaru", appauthor=False)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def project_name_to_resolve(environ: Mapping[str, str]) -> str | None:
    """``KITARU_PROJECT`` when it is a project *name* that the backend must turn into an id."""
    value = environ.get(_PROJECT[0], "").strip()
    return value if value and not _is_uuid(value) else None


def translate(environ: MutableMapping[str, str]) -> None:
    """Set the ZenML variables implied by ``environ``'s Kitaru variables, in place.

    Never raises: it runs inside ``import zenml``. Validation (and the guardrails) happen in
    :func:`kitaru_core.config.env.read_env` before Kitaru first talks to the store.
    """
    # ZenML's config always lives inside the Kitaru config dir, so nothing is ever written to
    # ~/.config/zenml (a directly set ZENML_CONFIG_PATH is deliberately overridden).
    environ["ZENML_CONFIG_PATH"] = _config_dir(environ)
    for kitaru_name, zenml_name in _DIRECT.items():
        value = environ.get(kitaru_name, "").strip()
        if value:
            environ[zenml_name] = value
    project = environ.get(_PROJECT[0], "").strip()
    if project and _is_uuid(project):
        environ[_PROJECT[1]] = project
    for name, value in _DEFAULTS.items():
        environ.setdefault(name, value)
    analytics = environ.get("KITARU_ANALYTICS_OPT_IN", "").strip().lower()
    if analytics:
        environ["ZENML_ANALYTICS_OPT_IN"] = "true" if analytics in _TRUE else "false"
    if debug_enabled(environ):
        environ["ZENML_LOGGING_VERBOSITY"] = "DEBUG"
        environ["ZENML_DEBUG"] = "true"


def apply() -> None:
    """The ``zenml.init_hooks`` entry point."""
    translate(os.environ)
