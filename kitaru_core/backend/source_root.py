"""The source root: the folder a flow's module is imported from, recorded on each run so that
a resume, a retry or a replay in another process imports the same module again."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from kitaru_core.config.project import find_project_root
from kitaru_core.naming import SOURCE_ROOT_KEY


def source_root_for(file: Path | None) -> Path:
    """The folder flows are imported from: the ``kitaru init`` root, else the module's folder,
    else the current directory."""
    if file is None:
        return Path.cwd().resolve()
    file = file.resolve()
    root = find_project_root(file.parent)
    if root is not None and file.is_relative_to(root):
        return root
    return package_root(file)


def package_root(file: Path) -> Path:
    """The folder from which ``file`` imports under its full dotted name.

    For ``tests/flows/basic.py`` inside the package ``flows`` (``tests/flows/__init__.py``) this
    is ``tests/``, not ``tests/flows/``: ZenML names a module by its path relative to the source
    root, and a root inside the package would make it import a second copy of the module
    (``basic`` next to ``flows.basic``), with its own classes and checkpoint objects.
    """
    folder = file.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        folder = folder.parent
    return folder


def module_source_root(module_name: str) -> Path:
    """Where the (already imported) module ``module_name`` is imported from when a run of a
    flow defined in it is resumed or replayed."""
    file = getattr(sys.modules.get(module_name), "__file__", None)
    return source_root_for(Path(file) if file else None)


def use_source_root(root: str | Path) -> None:
    """Make ZenML resolve and reload flow modules relative to ``root``."""
    from zenml.utils import source_utils

    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    source_utils.set_custom_source_root(str(root))


def prepare_source_root(run: Any) -> None:
    """Use the source root recorded on ``run`` (a ZenML run), if it has one."""
    root = (run.config.extra or {}).get(SOURCE_ROOT_KEY)
    if root:
        use_source_root(root)
