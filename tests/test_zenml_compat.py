"""ZenML's private and internal names: each one Kitaru uses still exists, with the shape Kitaru
relies on.

A ZenML upgrade that moves or renames one of them fails here, with a message naming it, rather
than breaking cancel, replay or waits at run time. What counts as private or internal is
defined in the docstring of ``kitaru_core.backend.zenml_compat``. (That none is used outside
``kitaru_core/backend/zenml_compat/`` is checked in ``test_zenml_compat_scan.py``; the fast
path's schema and store internals in ``test_zenml_compat_store.py``.)
"""

from __future__ import annotations

import importlib
import inspect
import io
import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPAT = ROOT / "kitaru_core" / "backend" / "zenml_compat"


def _resolve(dotted: str) -> Any:
    """The object at ``module.path:Attr.attr`` in the installed ZenML, or a failure naming it."""
    module_name, _, attributes = dotted.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        pytest.fail(f"ZenML name moved: module {module_name} is gone ({exc})")
    for part in attributes.split(".") if attributes else []:
        if part not in vars(target) and not hasattr(target, part):
            pytest.fail(f"ZenML name moved: {dotted} is gone ({part} not found)")
        target = vars(target)[part] if part in vars(target) else getattr(target, part)
    return target


def _accepts(func: Callable[..., Any], *args: str, positional: int = 0) -> None:
    """``func`` takes ``positional`` leading positional arguments and the keywords ``args``."""
    name = getattr(func, "__qualname__", repr(func))
    signature = inspect.signature(func)
    params = list(signature.parameters.values())
    for keyword in args:
        assert keyword in signature.parameters, f"ZenML {name} no longer takes {keyword}="
    leading = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    takes_varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
    assert takes_varargs or len(leading) >= positional, (
        f"ZenML {name} no longer takes {positional} positional argument(s)"
    )


# ------------------------------------------------------------------ the names, one by one


@pytest.mark.parametrize(
    "dotted",
    [
        "zenml.execution.pipeline.dynamic.runner:_WaitConditionAborted",
        "zenml.execution.pipeline.dynamic.runner:RunPaused",
        "zenml.exceptions:AuthorizationException",
    ],
)
def test_exception_classes_are_exceptions(dotted: str) -> None:
    cls = _resolve(dotted)
    assert isinstance(cls, type) and issubclass(cls, Exception), f"{dotted} is not an Exception"


def test_the_abort_signal_is_constructed_with_a_message() -> None:
    cls = _resolve("zenml.execution.pipeline.dynamic.runner:_WaitConditionAborted")
    assert str(cls("cancelled")) == "cancelled"


def test_the_dynamic_run_context() -> None:
    cls = _resolve("zenml.execution.pipeline.dynamic.run_context:DynamicPipelineRunContext")
    assert callable(cls.get), "DynamicPipelineRunContext.get is gone"
    for name in ("run", "runner"):
        assert isinstance(inspect.getattr_static(cls, name), property), (
            f"DynamicPipelineRunContext.{name} is no longer a property"
        )
    _accepts(cls.next_wait_condition_name, positional=1)
    assert cls.get() is None, "outside a run there is no run context"


def test_the_runner_keeps_its_invocation_ids_under_a_lock() -> None:
    cls = _resolve("zenml.execution.pipeline.dynamic.runner:DynamicPipelineRunner")
    init = inspect.getsource(cls.__init__)
    for name in ("_invocation_id_lock", "_invocation_ids"):
        assert f"self.{name}" in init, f"DynamicPipelineRunner.{name} is gone"


def test_compute_invocation_id() -> None:
    compute = _resolve("zenml.execution.pipeline.utils:compute_invocation_id")
    _accepts(compute, "existing_invocations", "base_name", "allow_suffix")
    taken = {"fetch", "fetch_2"}
    assert compute(existing_invocations=taken, base_name="fetch", allow_suffix=True) == "fetch_3"
    assert compute(existing_invocations=taken, base_name="mine", allow_suffix=False) == "mine"


def test_resolve_module_is_a_function_of_a_module() -> None:
    resolve = _resolve("zenml.utils.source_utils:_resolve_module")
    _accepts(resolve, "module", positional=1)


@pytest.mark.parametrize(
    "dotted", ["zenml.pipelines.pipeline_definition:Pipeline", "zenml.steps.base_step:BaseStep"]
)
def test_source_code_and_source_object_are_properties(dotted: str) -> None:
    cls = _resolve(dotted)
    for name in ("source_code", "source_object"):
        assert isinstance(cls.__dict__.get(name), property), f"{dotted}.{name} is not a property"


def test_the_input_model_builder_takes_only_the_pipeline() -> None:
    builder = _resolve("zenml.pipelines.pipeline_definition:Pipeline._compute_input_model")
    params = list(inspect.signature(builder).parameters)
    assert params == ["self"], f"Pipeline._compute_input_model now takes {params}"


def test_dynamic_pipeline_loads_from_a_source() -> None:
    cls = _resolve("zenml.pipelines.dynamic.pipeline_definition:DynamicPipeline")
    _accepts(cls.load_from_source, "source", positional=1)


def test_server_deployment_and_login_names() -> None:
    deployer = _resolve("zenml.zen_server.deploy.deployer:LocalServerDeployer")
    for method in ("get_server", "deploy_server", "connect_to_server", "remove_server"):
        assert callable(getattr(deployer, method, None)), f"LocalServerDeployer.{method} is gone"
    _accepts(deployer.deploy_server, "timeout", positional=2)
    config = _resolve("zenml.zen_server.deploy.deployment:LocalServerDeploymentConfig")
    assert "provider" in config.model_fields, "LocalServerDeploymentConfig.provider is gone"
    store = _resolve("zenml.login.credentials_store:get_credentials_store")()
    for method in ("get_credentials", "set_api_key", "clear_credentials"):
        assert callable(getattr(store, method, None)), f"credentials store .{method} is gone"
    rest = _resolve("zenml.zen_stores.rest_zen_store:RestZenStoreConfiguration")
    assert {"url", "verify_ssl"} <= set(rest.model_fields), "RestZenStoreConfiguration changed"


def test_the_daemon_config_keeps_the_port() -> None:
    from kitaru_core.backend.zenml_compat.server import daemon_server_config

    config = daemon_server_config(8765)
    assert str(config.provider.value) == "daemon"
    assert config.model_dump().get("port") == 8765


def test_the_sql_store_engine_names_its_database(zenml_client: Any) -> None:
    from kitaru_core.backend.zenml_compat.database import sqlite_engine, sqlite_file

    sql_store = _resolve("zenml.zen_stores.sql_zen_store:SqlZenStore")
    assert isinstance(inspect.getattr_static(sql_store, "engine"), property)
    path = sqlite_file(zenml_client.zen_store)
    assert path is not None and Path(path).is_file(), f"no SQLite file behind the store: {path}"
    assert sqlite_engine(zenml_client.zen_store) is zenml_client.zen_store.engine
    assert sqlite_file(object()) is None  # a server's store has no engine
    _accepts(zenml_client.zen_store.engine.dispose, "close")


def test_forgetting_pooled_connections_keeps_the_store_usable(zenml_client: Any) -> None:
    from kitaru_core.backend.zenml_compat.database import forget_pooled_connections

    zenml_client.zen_store.get_store_info()  # a pooled connection exists
    forget_pooled_connections(zenml_client.zen_store)
    forget_pooled_connections(object())  # nothing to forget
    assert zenml_client.zen_store.engine.pool.checkedin() == 0
    assert zenml_client.zen_store.get_store_info().version  # a fresh connection works


def test_a_server_client_can_get_a_fresh_http_session() -> None:
    # Forked workers must not share the parent's keep-alive sockets to a ZenML server.
    from zenml.zen_stores.rest_zen_store import RestZenStore

    _accepts(RestZenStore.reinitialize_session)
    assert isinstance(RestZenStore.__dict__["session"], property)


def test_the_console_handler_is_a_logging_handler() -> None:
    from kitaru_core.backend.zenml_compat.console import is_zenml_console_handler

    cls = _resolve("zenml.logger:ZenMLConsoleHandler")
    assert issubclass(cls, logging.Handler)
    assert is_zenml_console_handler(cls(io.StringIO()))
    assert not is_zenml_console_handler(logging.StreamHandler())


def test_the_warm_up_names_exist() -> None:
    from kitaru_core.backend.zenml_compat import warmup

    assert warmup.import_run_path() == [], "modules a pre-forked worker preloads are gone"
    _accepts(_resolve("zenml.environment:get_run_environment_dict"))


def test_error_names_in_the_translation_table_still_exist() -> None:
    """``kitaru_core.errors`` recognises exceptions of several libraries by class name, so it
    imports none of them; every ZenML name in its table must still be a ZenML exception."""
    from kitaru_core import errors

    zenml_exceptions = importlib.import_module("zenml.exceptions")
    zenml_names = {
        "ZenKeyError",
        "DoesNotExistException",
        "IllegalOperationError",
        "EntityExistsError",
        "RunStoppedException",
        "MethodNotAllowedError",
        "ValidationError",
        "StackValidationError",
        "AuthorizationException",
        "CredentialsNotValid",
        "OAuthError",
    }
    table = (
        errors._NOT_FOUND_NAMES
        | errors._STATE_NAMES
        | errors._VALIDATION_NAMES
        | errors._AUTH_NAMES
        | errors._CONNECTION_NAMES
    )
    assert zenml_names <= table
    for name in sorted(zenml_names):
        cls = getattr(zenml_exceptions, name, None)
        assert isinstance(cls, type) and issubclass(cls, Exception), (
            f"ZenML name moved: zenml.exceptions.{name} (matched by name in kitaru_core/errors.py)"
        )


# --------------------------------------------------- the compat functions do what they say


def test_the_run_context_functions_outside_a_run() -> None:
    from kitaru_core.backend.zenml_compat import runner

    assert runner.run_context() is None
    assert runner.next_wait_name() is None
    assert runner.claim_invocation_id("fetch", pinned=False, only_if={"fetch"}) is None


def test_suspension_signals_are_told_apart() -> None:
    from kitaru_core.backend.zenml_compat.errors import is_run_suspension
    from kitaru_core.backend.zenml_compat.runner import abort_signal

    paused = _resolve("zenml.execution.pipeline.dynamic.runner:RunPaused")
    assert is_run_suspension(abort_signal("cancelled"))
    assert is_run_suspension(paused())
    assert not is_run_suspension(RuntimeError("RunPaused"))


def test_only_the_exact_authorization_error_is_one() -> None:
    from kitaru_core.backend.zenml_compat.errors import is_authorization_error

    exceptions = importlib.import_module("zenml.exceptions")
    assert is_authorization_error(exceptions.AuthorizationException("no"))
    assert not is_authorization_error(exceptions.CredentialsNotValid("expired"))
    assert not is_authorization_error(PermissionError("no"))


def test_a_file_less_main_gets_a_name_and_other_modules_keep_theirs() -> None:
    from zenml.utils import source_utils

    from kitaru_core.runtime import interactive

    interactive.allow_flows_without_file()
    interactive.allow_flows_without_file()  # once per process: not wrapped twice
    resolve = source_utils._resolve_module
    assert getattr(resolve, "__kitaru_patched__", False)
    file_less = ModuleType("__main__")
    assert resolve(file_less) == "__main__"
    assert resolve(ModuleType("some_module")) == "some_module"  # ZenML's own answer


def test_a_step_without_source_text_is_fingerprinted(zenml_client: Any) -> None:
    from zenml import step

    from kitaru_core.runtime import interactive

    interactive.allow_missing_source_code()
    namespace: dict[str, Any] = {}
    exec(compile("def typed_in(x: int) -> int:\n    return x + 1\n", "<stdin>", "exec"), namespace)
    zenml_step = step(namespace["typed_in"])
    text = zenml_step.source_code
    assert "source text not available" in text and "typed_in" in text
    assert step(_a_function_in_a_file).source_code.startswith("def _a_function_in_a_file")


def _a_function_in_a_file(x: int) -> int:
    return x


def test_the_input_model_warning_is_ignored_only_while_building() -> None:
    from kitaru_core.backend.zenml_compat.pipeline import ignore_input_model_warning

    pipeline_cls = _resolve("zenml.pipelines.pipeline_definition:Pipeline")
    ignore_input_model_warning("a message that never comes")
    ignore_input_model_warning("a message that never comes")
    builder = pipeline_cls._compute_input_model
    assert getattr(builder, "_kitaru_quiet_shadowing", False)
    assert not hasattr(builder.__wrapped__, "_kitaru_quiet_shadowing"), "wrapped twice"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("a message that never comes", UserWarning, stacklevel=1)
    assert len(caught) == 1  # outside the builder the warning shows


# ------------------------------------------------------------ the compat package loads lazily


def test_importing_the_compat_modules_does_not_import_zenml() -> None:
    import subprocess
    import sys

    modules = ", ".join(
        path.stem for path in sorted(COMPAT.glob("*.py")) if path.stem != "__init__"
    )
    code = (
        f"import sys\nfrom kitaru_core.backend.zenml_compat import {modules}\n"
        "print('zenml' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False", f"importing {modules} imports ZenML"
