"""The package's imports go one way, with no loops — imports inside functions included.

Layers, highest first: the surfaces (MCP server, CLI, SDK client and names) → services →
runtime → backend → requests → the leaves (models, errors, hints, config, jobs, …). A module
may import from its own layer or a lower one, never a higher one, and no set of modules may
import each other in a circle. An import inside a function is still an import: it only moves
the failure from start-up to the first call, so it counts the same.

Implicit imports of parent packages (``import a.b.c`` runs ``a/__init__`` and ``a/b/__init__``)
are not counted: the package ``__init__`` files are cheap by design and hold no logic.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kitaru_core", "kitaru_mcp")

# (layer, module-name prefixes); the first matching row wins, so specific rows come first.
SURFACE, SERVICES, RUNTIME, BACKEND, REQUESTS, LEAF = range(5, -1, -1)
LAYER_NAMES = {
    SURFACE: "surface",
    SERVICES: "services",
    RUNTIME: "runtime",
    BACKEND: "backend",
    REQUESTS: "requests",
    LEAF: "leaf",
}
_PREFIXES: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        SURFACE,
        (
            "kitaru_mcp",
            "kitaru_core.cli",
            "kitaru_core.client",
            "kitaru_core.sdk_connect",
            "kitaru_core.sdk_stacks",
        ),
    ),
    (SERVICES, ("kitaru_core.services",)),
    (RUNTIME, ("kitaru_core.runtime",)),
    (BACKEND, ("kitaru_core.backend",)),
    (REQUESTS, ("kitaru_core.requests",)),
)


def layer_of(module: str) -> int:
    if module == "kitaru_core":  # the SDK's public names
        return SURFACE
    for layer, prefixes in _PREFIXES:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return layer
    return LEAF


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _imported_names(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """(target module, line) for every import statement in the file, at any depth."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                # `from pkg import module` imports the module; `from module import name` the module.
                yield f"{target}.{alias.name}", node.lineno
                yield target, node.lineno


def import_edges() -> dict[str, dict[str, int]]:
    """module → {imported project module: first line}."""
    known = modules()
    edges: dict[str, dict[str, int]] = defaultdict(dict)
    for module, path in known.items():
        for target, line in _imported_names(module, path):
            if target not in known or target == module or module.startswith(target + "."):
                continue
            # A `from pkg import name` also yields `pkg`; count the package only when the name
            # is not itself a module of it.
            edges[module].setdefault(target, line)
    for targets in edges.values():
        for target in list(targets):
            children = [t for t in targets if t.startswith(target + ".")]
            if children and (known[target].name == "__init__.py"):
                del targets[target]
    return edges


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(modules()):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, {}))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_imports_a_higher_layer() -> None:
    upward = [
        f"{module}:{line} ({LAYER_NAMES[layer_of(module)]}) imports {target} "
        f"({LAYER_NAMES[layer_of(target)]})"
        for module, targets in sorted(import_edges().items())
        for target, line in sorted(targets.items())
        if layer_of(target) > layer_of(module)
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_modules_import_each_other_in_a_loop() -> None:
    loops = cycles(import_edges())
    assert not loops, "import loops:\n" + "\n".join(" ↔ ".join(loop) for loop in loops)


def test_the_walk_sees_imports_inside_functions() -> None:
    # Self-check: the scanner must count a function-level import, or the rules above prove
    # nothing. kitaru_mcp.server imports the tool modules by name, but it imports the hints
    # module at the top and resources at the top; services import the backend lazily.
    edges = import_edges()
    lazily = [
        (module, target)
        for module, targets in edges.items()
        for target in targets
        if module.startswith("kitaru_core.services.") and target.startswith("kitaru_core.backend.")
    ]
    assert lazily, "no services → backend import found: the walk misses function-level imports"
    assert layer_of("kitaru_mcp.server") == SURFACE
    assert layer_of("kitaru_core.models") == LEAF
