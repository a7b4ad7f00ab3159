"""Project-level configuration: ``[tool.kitaru]`` in the nearest ``pyproject.toml`` and the
``kitaru init`` root marker."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kitaru_core.config.image import ImageSettings, coerce_image
from kitaru_core.config.paths import config_dir
from kitaru_core.errors import KitaruUsageError

ROOT_MARKER = ".kitaru"
ROOT_FILE = "project-root"
_ALLOWED_KEYS = ("stack", "cache", "retries", "image")


@dataclass(frozen=True)
class ProjectConfig:
    """The ``[tool.kitaru]`` table; ``path`` is the file it came from (``None``: no file)."""

    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def stack(self) -> str | None:
        return self.values.get("stack")

    @property
    def cache(self) -> bool | None:
        return self.values.get("cache")

    @property
    def retries(self) -> int | None:
        return self.values.get("retries")

    @property
    def image(self) -> ImageSettings | None:
        return self.values.get("image")


def find_upwards(name: str, start: Path | None = None) -> Path | None:
    """The nearest ``name`` in ``start`` or one of its parents."""
    current = (start or Path.cwd()).resolve()
    for folder in (current, *current.parents):
        candidate = folder / name
        if candidate.exists():
            return candidate
    return None


def find_project_root(start: Path | None = None) -> Path | None:
    """The folder ``kitaru init`` marked, searching upwards from ``start``.

    A ``.kitaru`` folder that is the Kitaru config dir itself (``KITARU_CONFIG_PATH=/app/.kitaru``,
    or ``~/.kitaru``) only counts when ``kitaru init`` wrote its marker file into it: otherwise
    every folder below a config dir would silently become one project.
    """
    current = (start or Path.cwd()).resolve()
    state_dir = config_dir()
    for folder in (current, *current.parents):
        marker = folder / ROOT_MARKER
        if not marker.is_dir():
            continue
        if (marker / ROOT_FILE).is_file() or marker.resolve() != state_dir:
            return folder
    return None


def init_project_root(folder: Path | None = None) -> Path:
    """Mark ``folder`` (default: the current directory) as a Kitaru project root."""
    root = (folder or Path.cwd()).resolve()
    marker = root / ROOT_MARKER
    if marker.exists() and not marker.is_dir():
        raise KitaruUsageError(
            f"Cannot mark {root} as a Kitaru project: {marker} exists and is not a folder.",
            hint=f"Remove or rename {marker}, then run `kitaru init` again.",
            details={"file": str(marker)},
        )
    marker.mkdir(exist_ok=True)
    (marker / ROOT_FILE).write_text(
        "# Written by `kitaru init`: this folder is the source root of a Kitaru project.\n",
        encoding="utf-8",
    )
    return root


def load_project_config(start: Path | None = None) -> ProjectConfig:
    """Read and validate ``[tool.kitaru]`` from the nearest ``pyproject.toml``."""
    path = find_upwards("pyproject.toml", start)
    if path is None:
        return ProjectConfig()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise KitaruUsageError(
            f"{path} could not be read as TOML: {exc}.",
            hint=f"Fix {path}; Kitaru reads its [tool.kitaru] table.",
            details={"file": str(path)},
        ) from exc
    table = document.get("tool", {}).get("kitaru")
    if table is None:
        return ProjectConfig(path=path)
    return ProjectConfig(path=path, values=_validate_table(table, path))


def _validate_table(table: Any, path: Path) -> dict[str, Any]:
    where = f"[tool.kitaru] in {path}"
    if not isinstance(table, dict):
        raise _bad(path, f"{where} must be a table.")
    unknown = sorted(set(table) - set(_ALLOWED_KEYS))
    if unknown:
        raise KitaruUsageError(
            f"{where} has unknown keys: {', '.join(unknown)}.",
            hint=f"Allowed keys: {', '.join(_ALLOWED_KEYS)}.",
            details={"file": str(path), "unknown": unknown},
        )
    # TOML is typed, so types are checked strictly: ``retries = "2"`` is a mistake worth naming.
    values: dict[str, Any] = {}
    if "stack" in table:
        stack = table["stack"]
        if not isinstance(stack, str) or not stack.strip():
            raise _bad(path, f"{where}: stack must be a non-empty string, got {stack!r}.")
        values["stack"] = stack.strip()
    if "cache" in table:
        cache = table["cache"]
        if not isinstance(cache, bool):
            raise _bad(path, f"{where}: cache must be true or false, got {cache!r}.")
        values["cache"] = cache
    if "retries" in table:
        retries = table["retries"]
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise _bad(path, f"{where}: retries must be a whole number >= 0, got {retries!r}.")
        values["retries"] = retries
    if "image" in table:
        values["image"] = coerce_image(table["image"], source=f"{where}: image")
    return values


def _bad(path: Path, message: str) -> KitaruUsageError:
    return KitaruUsageError(
        message,
        hint=f"Fix the [tool.kitaru] table in {path} (keys: {', '.join(_ALLOWED_KEYS)}).",
        details={"file": str(path)},
    )
