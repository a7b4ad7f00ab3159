"""Load a flow from a target ``<module_or_file>:<flow>`` and decide its source root."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from kitaru_core.backend.source_root import source_root_for
from kitaru_core.errors import KitaruNotFoundError, KitaruUsageError
from kitaru_core.runtime.flow import Flow


def split_target(target: str) -> tuple[str, str]:
    """``"path/to/file.py:my_flow"`` → ``("path/to/file.py", "my_flow")``."""
    module_part, sep, attribute = (target or "").strip().rpartition(":")
    if not sep or not module_part or not attribute.isidentifier():
        raise KitaruUsageError(
            f"'{target}' is not a flow target.",
            hint="Use <file.py>:<flow> or <module>:<flow>, e.g. "
            "`examples/basic_agent.py`:research_agent or my_package.flows:research_agent.",
            details={"target": target},
        )
    return module_part, attribute


def is_file_target(module_part: str) -> bool:
    """Whether a target's module part is a file path rather than a dotted module name."""
    return module_part.endswith(".py") or "/" in module_part or "\\" in module_part


def module_name_for(file: Path, root: Path) -> str:
    relative = file.resolve().relative_to(root).with_suffix("")
    parts = list(relative.parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    if not parts or not all(part.isidentifier() for part in parts):
        raise KitaruUsageError(
            f"{file} cannot be imported as a Python module from {root}.",
            hint="Name files and folders with letters, digits and underscores.",
        )
    return ".".join(parts)


def _import(module_name: str, root: Path) -> ModuleType:
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise KitaruNotFoundError(
            f"Module '{module_name}' could not be imported: {exc}.",
            hint="Check the module path, or give a file path such as flows/agent.py:my_flow.",
            details={"module": module_name},
        ) from exc


def load_flow(target: str) -> tuple[Flow, Path]:
    """Import the target's module and return its flow and source root."""
    module_part, attribute = split_target(target)
    if is_file_target(module_part):
        file = Path(module_part).expanduser()
        if not file.is_file():
            raise KitaruNotFoundError(
                f"Flow file '{module_part}' does not exist (looked in {Path.cwd()}).",
                hint="Give a path relative to the current directory, or an absolute path.",
                details={"target": target},
            )
        root = source_root_for(file)
        module = _import(module_name_for(file, root), root)
    else:
        root = source_root_for(None)
        module = _import(module_part, root)
    obj = getattr(module, attribute, None)
    if obj is None:
        flows = sorted(name for name, value in vars(module).items() if isinstance(value, Flow))
        raise KitaruNotFoundError(
            f"'{module_part}' has no attribute '{attribute}'.",
            hint=f"Flows defined there: {', '.join(flows) or 'none'}.",
            details={"target": target, "flows": flows},
        )
    if not isinstance(obj, Flow):
        raise KitaruUsageError(
            f"'{target}' is a {type(obj).__name__}, not a flow.",
            hint="Decorate the function with @flow.",
            details={"target": target},
        )
    return obj, root
