"""Every use of a private or internal ZenML name lives in this package, and only here.

"Private or internal" means any of:

- an underscore name of ZenML (``_resolve_module``, ``_WaitConditionAborted``, a runner's
  ``_invocation_ids``, a store's ``_get_active_user``);
- a module outside ZenML's public surface: ``zenml.zen_stores``, ``zenml.zen_server``,
  ``zenml.orchestrators``, ``zenml.execution``, ``zenml.login``, ``zenml.logger``,
  ``zenml.environment``, the submodules of ``zenml.pipelines`` and ``zenml.steps``, and the
  deep paths of ``zenml.models`` (``zenml.models.v2...``);
- the SQL store's engine (``SqlZenStore.engine``) and schema classes;
- a monkeypatch: assigning to (or ``setattr`` on) anything ZenML defines;
- an exception or class recognised by its name string (``type(x).__name__ == "..."``).

Public, and fine anywhere in ``backend/`` and ``runtime/``: ``zenml`` top-level names
(``pipeline``, ``step``, ``wait``, ``log_metadata``, ``save_artifact``, …), ``zenml.client``
(``Client`` and its public methods, ``Client().zen_store``'s public store methods, which are
the same over SQL and REST), ``zenml.enums``, ``zenml.models``, ``zenml.config`` (settings
classes, ``GlobalConfiguration``), ``zenml.constants``, ``zenml.exceptions``, ``zenml.io``,
``zenml.stack``, ``zenml.integrations.registry`` and the public functions of ``zenml.utils``
modules.

Each such name has a test in ``tests/test_zenml_compat*.py`` that fails loudly, naming it, when
an upgrade moves it, instead of breaking cancel, replay or waits at run time; the same file
scans ``kitaru_core`` and ``kitaru_mcp`` for uses outside this package.

Submodules group the names by the ZenML area they reach into: ``runner`` (the dynamic runner),
``errors`` (exception classes), ``source`` (naming and fingerprinting code), ``pipeline``
(pipeline internals), ``server`` (server deployment and login), ``database`` (the SQL store's
database), ``console`` (logging), ``warmup`` (what a pre-forked worker imports), and the fast
path's ``schema`` and ``store_internals``. They import ZenML inside their functions only, so
importing this package or a submodule never imports ZenML.
"""
