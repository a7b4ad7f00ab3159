"""No private or internal ZenML name outside ``kitaru_core/backend/zenml_compat/``.

An AST scan of ``kitaru_core`` and ``kitaru_mcp`` (imports inside functions included) finds
internal modules, private names and attributes, monkeypatches of ZenML objects, the SQL store's
engine and exception classes matched by name strings; what counts as private or internal is
defined in the docstring of ``kitaru_core.backend.zenml_compat``. The names Kitaru does use,
inside that package, are checked one by one in ``test_zenml_compat.py``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPAT = ROOT / "kitaru_core" / "backend" / "zenml_compat"
SCANNED = ("kitaru_core", "kitaru_mcp")

# -------------------------------------------------------- no private name outside the package

# Modules outside ZenML's public surface (see the package docstring), by dotted prefix.
INTERNAL_MODULES = (
    "zenml.zen_stores",
    "zenml.zen_server",
    "zenml.orchestrators",
    "zenml.execution",
    "zenml.login",
    "zenml.logger",
    "zenml.environment",
    "zenml.pipelines.",
    "zenml.steps.",
    "zenml.models.v2",
    "zenml.artifacts.",
    "zenml.config.compiler",
    "zenml.config.settings_resolver",
)
# Private ZenML attributes reached through objects the scan cannot trace to a ZenML import.
PRIVATE_ATTRIBUTES = {"_invocation_ids", "_invocation_id_lock", "_get_active_user"}
# Class names compared as strings that are not ZenML's (``__main__``: the module name).
OTHER_LIBRARIES_NAMES = {
    "__main__",
    "ValidationError",  # pydantic's, in kitaru_core/errors.py and kitaru_mcp/errors.py
}


def _internal_module(name: str) -> bool:
    """Whether ``name`` is (in) an internal module: a prefix ending in ``.`` covers only the
    submodules of a package whose own names are public."""
    for prefix in INTERNAL_MODULES:
        if prefix.endswith("."):
            if name.startswith(prefix):
                return True
        elif name == prefix or name.startswith(prefix + "."):
            return True
    return False


@dataclass(frozen=True)
class Use:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


class _Scanner(ast.NodeVisitor):
    """Finds private or internal ZenML names in one module (imports inside functions too)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.uses: list[Use] = []
        # Names bound to a ZenML module, class or function (patching one is a monkeypatch),
        # and names bound to anything derived from ZenML, objects it returns included.
        self.zenml_bound: set[str] = set()
        self.zenml_derived: set[str] = set()

    def scan(self, tree: ast.Module) -> list[Use]:
        self._bind_imports(tree)
        self._bind_aliases(tree)
        self.visit(tree)
        return self.uses

    def _add(self, node: ast.AST, what: str) -> None:
        self.uses.append(Use(self.path, getattr(node, "lineno", 0), what))

    def _bind_imports(self, tree: ast.Module) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "zenml":
                        self.zenml_bound.add((alias.asname or alias.name).split(".")[0])
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "zenml":
                self.zenml_bound.update(alias.asname or alias.name for alias in node.names)
        self.zenml_derived.update(self.zenml_bound)

    def _bind_aliases(self, tree: ast.Module) -> None:
        """Names assigned from ZenML-bound expressions are bound too: ``cls = Pipeline``,
        ``registry_type = type(integration_registry)``, ``for cls in (Pipeline, BaseStep)``;
        ``context = RunContext.get()`` is only derived (an object, not a definition)."""
        changed = True
        while changed:
            changed = False
            for node in ast.walk(tree):
                value: ast.expr | None = None
                targets: list[ast.expr] = []
                if isinstance(node, ast.Assign):
                    value, targets = node.value, node.targets
                elif isinstance(node, ast.For) and isinstance(node.iter, (ast.Tuple, ast.List)):
                    items = node.iter.elts
                    if items and all(
                        self._root(item, calls=False) in self.zenml_bound for item in items
                    ):
                        value, targets = items[0], [node.target]
                if value is None:
                    continue
                names = [t.id for t in targets if isinstance(t, ast.Name)]
                for name in names:
                    if self._root(value, calls=False) in self.zenml_bound:
                        changed |= name not in self.zenml_bound
                        self.zenml_bound.add(name)
                    if self._root(value, calls=True) in self.zenml_derived:
                        changed |= name not in self.zenml_derived
                        self.zenml_derived.add(name)

    def _root(self, node: ast.expr, *, calls: bool) -> str | None:
        """The name an expression starts from; through calls only if ``calls`` (``type(x)``
        is followed either way: it is ``x``'s class)."""
        while True:
            if isinstance(node, ast.Attribute):
                node = node.value
            elif isinstance(node, ast.Call):
                is_type = isinstance(node.func, ast.Name) and node.func.id == "type"
                if is_type and node.args:
                    node = node.args[0]
                elif calls:
                    node = node.func
                else:
                    return None
            elif isinstance(node, ast.Subscript):
                node = node.value
            else:
                return node.id if isinstance(node, ast.Name) else None

    def _patchable(self, node: ast.expr) -> bool:
        return self._root(node, calls=False) in self.zenml_bound

    def _derived(self, node: ast.expr) -> bool:
        return self._root(node, calls=True) in self.zenml_derived

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if _internal_module(alias.name):
                self._add(node, f"imports internal module {alias.name}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module.split(".")[0] != "zenml":
            return
        if _internal_module(module):
            self._add(node, f"imports from internal module {module}")
        for alias in node.names:
            if alias.name.startswith("_"):
                self._add(node, f"imports private name {module}.{alias.name}")
            elif not _internal_module(module) and _internal_module(f"{module}.{alias.name}"):
                self._add(node, f"imports internal module {module}.{alias.name}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        private = node.attr.startswith("_") and not node.attr.startswith("__")
        if node.attr in PRIVATE_ATTRIBUTES or (private and self._derived(node.value)):
            self._add(node, f"uses private attribute .{node.attr}")
        if isinstance(node.ctx, (ast.Store, ast.Del)) and self._patchable(node.value):
            self._add(node, f"monkeypatches {ast.unparse(node)}")
        if node.attr == "engine" and ast.unparse(node.value).endswith("zen_store"):
            self._add(node, "uses the SQL store's engine")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else None
        literal = _literal(node.args[1]) if len(node.args) > 1 else None
        if name in ("setattr", "delattr") and node.args and self._patchable(node.args[0]):
            self._add(node, f"monkeypatches with {name}(): {ast.unparse(node)}")
        if name in ("getattr", "hasattr") and literal is not None:
            if literal == "engine":
                self._add(node, "uses the SQL store's engine")
            elif literal.startswith("_") and node.args and self._derived(node.args[0]):
                self._add(node, f"uses private attribute {literal}")
        if ast.unparse(func).endswith("import_module") and node.args:
            target = _literal(node.args[0])
            if target is not None and _internal_module(target):
                self._add(node, f"imports internal module {target}")
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        sides = [node.left, *node.comparators]
        if any(isinstance(side, ast.Attribute) and side.attr == "__name__" for side in sides):
            for side in sides:
                for text in _literals(side):
                    if text not in OTHER_LIBRARIES_NAMES:
                        self._add(node, f"matches a class by its name string {text!r}")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        text = node.value
        if isinstance(text, str) and _MODULE_PATH.match(text) and _internal_module(text):
            self._add(node, f"names internal module {text}")


_MODULE_PATH = re.compile(r"^zenml(\.[A-Za-z_]\w*)+$")


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _literals(node: ast.expr) -> Iterator[str]:
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        for item in node.elts:
            yield from _literals(item)
    elif (text := _literal(node)) is not None:
        yield text


def _python_files() -> Iterator[Path]:
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            if COMPAT not in path.parents:
                yield path


def scan_file(path: Path) -> list[Use]:
    relative = str(path.relative_to(ROOT))
    return _Scanner(relative).scan(ast.parse(path.read_text(), relative))


def test_no_private_zenml_name_outside_the_compat_package() -> None:
    uses = [use for path in _python_files() for use in scan_file(path)]
    listing = "\n".join(f"  {use}" for use in uses)
    assert not uses, (
        f"{len(uses)} private or internal ZenML name(s) used outside "
        f"kitaru_core/backend/zenml_compat/ (move them there, behind a function):\n{listing}"
    )


# ------------------------------------------------------------------ the scan itself is sound

_SAMPLE = """
import importlib
from zenml.execution.pipeline.dynamic.runner import _WaitConditionAborted
from zenml.utils import source_utils
from zenml.pipelines.pipeline_definition import Pipeline
from zenml.integrations.registry import integration_registry

def patch():
    original = source_utils._resolve_module
    source_utils._resolve_module = original
    registry_type = type(integration_registry)
    registry_type.activate_integrations = None
    for cls in (Pipeline,):
        cls.source_code = property(lambda self: "")
    setattr(Pipeline, "x", 1)
    getattr(store, "engine", None)
    importlib.import_module("zenml.orchestrators.step_launcher")

def match(exc, runner):
    runner._invocation_ids.add("a")
    return type(exc).__name__ in ("RunPaused", "X") or type(exc).__name__ == "ValidationError"
"""


def test_the_scan_finds_each_kind_of_use(tmp_path: Path) -> None:
    uses = [use.what for use in _Scanner("sample.py").scan(ast.parse(_SAMPLE))]
    expected = [
        "imports from internal module zenml.execution.pipeline.dynamic.runner",
        "imports private name zenml.execution.pipeline.dynamic.runner._WaitConditionAborted",
        "imports from internal module zenml.pipelines.pipeline_definition",
        "uses private attribute ._resolve_module",
        "monkeypatches source_utils._resolve_module",
        "monkeypatches registry_type.activate_integrations",
        "monkeypatches cls.source_code",
        "monkeypatches with setattr(): setattr(Pipeline, 'x', 1)",
        "uses the SQL store's engine",
        "imports internal module zenml.orchestrators.step_launcher",
        "uses private attribute ._invocation_ids",
        "matches a class by its name string 'RunPaused'",
        "matches a class by its name string 'X'",
    ]
    for what in expected:
        assert what in uses, f"the scan missed: {what}\nfound: {uses}"
    assert not any("ValidationError" in what for what in uses)


def test_the_scan_passes_public_names() -> None:
    source = (
        "from zenml import pipeline, step\nfrom zenml.client import Client\n"
        "from zenml.enums import ExecutionStatus\nfrom zenml.utils import source_utils\n"
        "source_utils.set_custom_source_root('.')\nClient().zen_store.get_run(1)\n"
        "if __name__ == '__main__':\n    pass\n"
    )
    assert _Scanner("public.py").scan(ast.parse(source)) == []
