"""A small static check of the Python examples in the docs against the real SDK.

Not a type checker: it follows only what it can know for certain — names imported from
``kitaru_core`` / ``kitaru_mcp``, what ``KitaruClient()`` and its sub-objects are, and the
return types their methods declare — and reports:

- an import of a name (or module) that does not exist;
- an attribute that the module, class or returned model does not have
  (``client.executions.replay``, ``execution.failure.checkpoint``);
- a call whose arguments do not fit the real signature (an unknown keyword, too many or too
  few positional arguments).

Anything it cannot know (a placeholder such as ``exec_id``, a user-defined function) is left
alone, so a fragment that uses names from earlier blocks or from the prose is still checked as
far as it can be. Names flow from block to block of the same page, in order.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import re
import textwrap
import types
import typing
from dataclasses import dataclass, field
from typing import Any

SDK_PACKAGES = ("kitaru_core", "kitaru_mcp")


@dataclass(frozen=True)
class Thing:
    """A real object the example refers to: a module, a function, a class."""

    value: Any


@dataclass(frozen=True)
class Instance:
    """An instance of one of these classes (several for a union such as ``A | B``)."""

    classes: tuple[type, ...]


@dataclass(frozen=True)
class Method:
    """A method looked up on an instance: calls are checked against its signature."""

    owner: type
    name: str
    func: Any


@dataclass(frozen=True)
class ListOf:
    """A list (or other sequence) of items of a known kind."""

    item: Known


@dataclass(frozen=True)
class TupleOf:
    """A tuple of known kinds (unpacked by ``a, b = ...``)."""

    items: tuple[Known | None, ...]


Known = Thing | Instance | Method | ListOf | TupleOf


def source_of(block_text: str) -> str:
    """The block as Python source: ``>>>`` / ``...`` prompts of an interpreter session removed."""
    lines = block_text.splitlines()
    if not any(line.startswith(">>>") for line in lines):
        return block_text
    code = [line[4:] for line in lines if line.startswith((">>> ", "... ", ">>>", "..."))]
    return textwrap.dedent("\n".join(code)) + "\n"


def free_names(tree: ast.AST) -> set[str]:
    """Names a block reads but never binds itself (nor are builtins): its placeholders."""
    bound: set[str] = set()
    read: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return read - bound - set(dir(builtins))


def _is_sdk(obj: Any) -> bool:
    module = obj.__name__ if isinstance(obj, types.ModuleType) else getattr(obj, "__module__", "")
    return isinstance(module, str) and module.split(".")[0] in SDK_PACKAGES


def _known_from_type(hint: Any) -> Known | None:
    """What a declared type tells us: an SDK class, a list of them, a tuple, a union."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (list, typing.Sequence, typing.Iterable, typing.Iterator) and args:
        item = _known_from_type(args[0])
        return ListOf(item) if item is not None else None
    if origin is tuple and args and Ellipsis not in args:
        return TupleOf(tuple(_known_from_type(arg) for arg in args))
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in args if arg is not type(None)]
        if members and all(isinstance(arg, type) and _is_sdk(arg) for arg in members):
            return Instance(tuple(members))
        return None
    if isinstance(hint, type) and _is_sdk(hint):
        return Instance((hint,))
    return None


def _return_type(func: Any) -> Known | None:
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # an annotation that cannot be resolved at runtime
        return None
    return _known_from_type(hints.get("return"))


def _decorated(decorator: Any) -> Known | None:
    """What an SDK decorator makes of a function: ``@flow`` and ``@flow(...)`` both give a
    ``Flow`` (its declared return type is ``Flow | Callable[..., Flow]``)."""
    try:
        hint = typing.get_type_hints(decorator).get("return")
    except Exception:
        return None
    members = typing.get_args(hint) or (hint,)
    classes = tuple(arg for arg in members if isinstance(arg, type) and _is_sdk(arg))
    return Instance(classes) if classes else None


def _init_attributes(cls: type) -> dict[str, Known | None]:
    """``self.name = ...`` assignments in ``__init__`` (e.g. ``KitaruClient().executions``)."""
    init = cls.__dict__.get("__init__")
    if init is None or not inspect.isfunction(init):
        return {}
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
    except (OSError, TypeError, SyntaxError):
        return {}
    module_globals = init.__globals__
    found: dict[str, Known | None] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
                if target.value.id != "self":
                    continue
                kind: Known | None = None
                call = node.value
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Name):
                    made = module_globals.get(call.func.id)
                    if isinstance(made, type) and _is_sdk(made):
                        kind = Instance((made,))
                found[target.attr] = kind
    return found


def _attribute(cls: type, name: str) -> tuple[bool, Known | None]:
    """Whether instances of ``cls`` have attribute ``name``, and what it is if we know."""
    fields = getattr(cls, "model_fields", None) or {}
    if name in fields:
        return True, _known_from_type(fields[name].annotation)
    for klass in cls.__mro__:
        if name in _init_attributes(klass):
            return True, _init_attributes(klass)[name]
    try:
        annotations = typing.get_type_hints(cls)
    except Exception:
        annotations = getattr(cls, "__annotations__", {})
    if name in annotations:
        return True, _known_from_type(annotations[name])
    if not hasattr(cls, name):
        return False, None
    member = inspect.getattr_static(cls, name)
    if isinstance(member, property) and member.fget is not None:
        return True, _return_type(member.fget)
    if inspect.isfunction(member):
        return True, Method(cls, name, member)
    return True, None


@dataclass
class Checker:
    """Walks the blocks of one page in order; ``problems`` collects what is wrong."""

    where: str = ""
    env: dict[str, Known] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def check(self, code: str, where: str) -> None:
        """Check one block (its names stay known for the next blocks of the page)."""
        self.where = where
        try:
            tree = ast.parse(code)
        except SyntaxError as error:
            if not self._signature(code):
                self._report(error.lineno or 1, f"not valid Python: {error.msg}")
            return
        self._body(tree.body, self.env)

    def _signature(self, code: str) -> bool:
        """A block that shows a signature (``llm(prompt, *, model=None, ...) -> str``): its
        parameters must be the real function's, in order, with the same kinds."""
        found = re.match(r"\s*([A-Za-z_][\w.]*)\(", code)
        if not found:
            return False
        try:
            parameters_and_return = code.strip()[len(found.group(1)) :]
            shown = ast.parse(f"def _shown{parameters_and_return}: ...")
            real = self._expr(ast.parse(found.group(1), mode="eval").body, self.env)
        except SyntaxError:
            return False
        definition = shown.body[0]
        assert isinstance(definition, ast.FunctionDef)
        if not (isinstance(real, Thing) and callable(real.value)):
            self._report(1, f"`{found.group(1)}` is not a known SDK function")
            return True
        documented = [(arg.arg, "positional") for arg in definition.args.args]
        documented += [(arg.arg, "keyword-only") for arg in definition.args.kwonlyargs]
        actual = [
            (name, "keyword-only" if param.kind is param.KEYWORD_ONLY else "positional")
            for name, param in inspect.signature(real.value).parameters.items()
        ]
        if documented != actual:
            self._report(1, f"`{found.group(1)}` is documented as {documented}, but is {actual}")
        return True

    def _report(self, line: int, message: str) -> None:
        doc, first = self.where.rsplit(":", 1)
        self.problems.append(f"{doc}:{int(first) + line - 1}: {message}")

    # statements -------------------------------------------------------------------------

    def _body(self, statements: list[ast.stmt], env: dict[str, Known]) -> None:
        for statement in statements:
            self._statement(statement, env)

    def _statement(self, node: ast.stmt, env: dict[str, Known]) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            self._import(node, env)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            value = self._expr(node.value, env) if node.value is not None else None
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                self._bind(target, value, env)
        elif isinstance(node, ast.For | ast.AsyncFor):
            iterated = self._expr(node.iter, env)
            self._bind(node.target, iterated.item if isinstance(iterated, ListOf) else None, env)
            self._body(node.body + node.orelse, env)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            self._function(node, env)
        elif isinstance(node, ast.ClassDef):
            for base in [*node.bases, *node.decorator_list]:
                self._expr(base, env)
            self._body(node.body, dict(env))
            env.pop(node.name, None)
        elif isinstance(node, ast.Try):
            self._body(node.body, env)
            for handler in node.handlers:
                caught = self._expr(handler.type, env) if handler.type is not None else None
                if handler.name:
                    self._bind_name(handler.name, _instance_of(caught), env)
                self._body(handler.body, env)
            self._body(node.orelse + node.finalbody, env)
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                self._expr(item.context_expr, env)
                if item.optional_vars is not None:
                    self._bind(item.optional_vars, None, env)
            self._body(node.body, env)
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self._expr(child, env)
                elif isinstance(child, ast.stmt):
                    self._statement(child, env)

    def _import(self, node: ast.Import | ast.ImportFrom, env: dict[str, Known]) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in SDK_PACKAGES:
                    env.pop((alias.asname or alias.name).split(".")[0], None)
                    continue
                module = self._module(alias.name, node.lineno)
                top = alias.name.split(".")[0]
                if alias.asname and module is not None:
                    env[alias.asname] = Thing(module)
                elif module is not None:
                    env[top] = Thing(importlib.import_module(top))
            return
        source = node.module or ""
        module = self._module(source, node.lineno) if source.split(".")[0] in SDK_PACKAGES else None
        for alias in node.names:
            name = alias.asname or alias.name
            env.pop(name, None)
            if module is None:
                continue
            if hasattr(module, alias.name):
                env[name] = Thing(getattr(module, alias.name))
            elif (submodule := self._module(f"{source}.{alias.name}", None)) is not None:
                env[name] = Thing(submodule)
            else:
                self._report(node.lineno, f"`from {source} import {alias.name}`: no such name")

    def _module(self, name: str, line: int | None) -> types.ModuleType | None:
        try:
            return importlib.import_module(name)
        except ImportError:
            if line is not None:
                self._report(line, f"`{name}`: no such module")
            return None

    def _function(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef, env: dict[str, Known]
    ) -> None:
        kind: Known | None = None
        for decorator in node.decorator_list:
            self._expr(decorator, env)
            maker = decorator.func if isinstance(decorator, ast.Call) else decorator
            made = self._expr(maker, env)
            if isinstance(made, Thing) and _is_sdk(made.value) and callable(made.value):
                kind = _decorated(made.value)
        inner = dict(env)
        arguments = node.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        every += [arg for arg in (arguments.vararg, arguments.kwarg) if arg is not None]
        for arg in every:
            inner.pop(arg.arg, None)
        self._body(node.body, inner)
        self._bind_name(node.name, kind, env)

    def _bind(self, target: ast.expr, value: Known | None, env: dict[str, Known]) -> None:
        if isinstance(target, ast.Name):
            self._bind_name(target.id, value, env)
        elif isinstance(target, ast.Tuple | ast.List):
            items: tuple[Known | None, ...] = (None,) * len(target.elts)
            if isinstance(value, TupleOf) and len(value.items) == len(target.elts):
                items = value.items
            for element, item in zip(target.elts, items, strict=True):
                self._bind(element, item, env)
        else:
            self._expr(target, env)

    @staticmethod
    def _bind_name(name: str, value: Known | None, env: dict[str, Known]) -> None:
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value

    # expressions ------------------------------------------------------------------------

    def _expr(self, node: ast.expr, env: dict[str, Known]) -> Known | None:
        if isinstance(node, ast.Name):
            return env.get(node.id)
        if isinstance(node, ast.Attribute):
            return self._get_attribute(node, self._expr(node.value, env))
        if isinstance(node, ast.Call):
            return self._call(node, env)
        if isinstance(node, ast.Subscript):
            container = self._expr(node.value, env)
            self._expr(node.slice, env)
            if isinstance(container, ListOf) and not isinstance(node.slice, ast.Slice):
                return container.item
            return None
        if isinstance(node, ast.Lambda):
            return None
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self._expr(child, env)
            elif isinstance(child, ast.comprehension):
                for part in [child.iter, *child.ifs]:
                    self._expr(part, env)
            elif isinstance(child, ast.keyword):
                self._expr(child.value, env)
        return None

    def _get_attribute(self, node: ast.Attribute, base: Known | None) -> Known | None:
        name = node.attr
        if isinstance(base, Thing):
            value = base.value
            if isinstance(value, types.ModuleType) and _is_sdk(value):
                if hasattr(value, name):
                    return Thing(getattr(value, name))
                submodule = self._module(f"{value.__name__}.{name}", None)
                if submodule is None:
                    self._report(node.lineno, f"`{value.__name__}` has no attribute `{name}`")
                return Thing(submodule) if submodule is not None else None
            if isinstance(value, type) and _is_sdk(value) and not _attribute(value, name)[0]:
                self._report(node.lineno, f"`{value.__name__}` has no attribute `{name}`")
            return None
        if isinstance(base, Instance):
            results = [_attribute(cls, name) for cls in base.classes]
            if not any(found for found, _ in results):
                names = " | ".join(cls.__name__ for cls in base.classes)
                self._report(node.lineno, f"`{names}` has no attribute `{name}`")
                return None
            kinds = [kind for found, kind in results if found]
            return kinds[0] if len(kinds) == 1 else None
        return None

    def _call(self, node: ast.Call, env: dict[str, Known]) -> Known | None:
        callee = self._expr(node.func, env)
        for argument in node.args:
            self._expr(argument, env)
        for keyword in node.keywords:
            self._expr(keyword.value, env)
        if isinstance(callee, Method):
            self._check_arguments(node, callee.func, f"{callee.owner.__name__}.{callee.name}", 1)
            return _return_type(callee.func)
        if isinstance(callee, Thing) and callable(callee.value) and _is_sdk(callee.value):
            target = callee.value
            label = getattr(target, "__qualname__", repr(target))
            self._check_arguments(node, target, label, 0)
            if isinstance(target, type):
                return Instance((target,))
            return _return_type(target)
        return None

    def _check_arguments(self, node: ast.Call, func: Any, label: str, bound: int) -> None:
        """Bind the call's arguments to the real signature (``bound``: a leading ``self``)."""
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            return
        if any(keyword.arg is None for keyword in node.keywords):
            return
        try:
            signature = inspect.signature(func)
        except (TypeError, ValueError):
            return
        positional = [None] * (bound + len(node.args))
        keywords = {keyword.arg: None for keyword in node.keywords if keyword.arg}
        try:
            signature.bind(*positional, **keywords)
        except TypeError as error:
            self._report(node.lineno, f"`{label}(...)`: {error}")


def _instance_of(kind: Known | None) -> Known | None:
    """``except SomeError as error`` binds an instance of the caught class."""
    if isinstance(kind, Thing) and isinstance(kind.value, type):
        return Instance((kind.value,))
    return None
