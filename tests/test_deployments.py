"""Deployments on the real store (SPEC §5, seed 004): versions, routing tags, invoke, refusals.

The default stack here is local, so deployments are created with ``allow_local=True`` (SPEC §5's
development deployments): the whole path — saved snapshot, tags, detached worker — is real.
Flows live in ``tests/flows_deploy/``; every test deploys flows of its own because all tests of
one process share one store and a flow's versions belong to its name.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path
from typing import Any

import pytest
from deploy_support import (
    ROUTING_FILE,
    RUN_TIMEOUT,
    refused,
    routes,
    snapshot_names,
    tags_of,
)
from flows_deploy import routing, story
from runtime_helpers import TESTS_DIR

from kitaru_core import (
    KitaruClient,
    KitaruError,
    KitaruNotFoundError,
    KitaruStateError,
    KitaruUsageError,
    KitaruValidationError,
)
from kitaru_core.models import ExecutionStatus
from kitaru_core.services import deployments

# --- deploy ----------------------------------------------------------------------------------


def test_deploying_a_flow_object_records_what_the_seed_lists(zenml_client: Any) -> None:
    flow = routing.recorded_flow
    options = routing.Options(depth=4, mode="slow")
    deployed = flow.deploy(allow_local=True, topic="durable agents", options=options)

    assert deployed.flow == "recorded_flow"
    assert deployed.version == 1
    assert tags_of(deployed) == {"default": True}
    # Representative inputs, with the flow's defaults filled in; a model is saved as its JSON.
    assert deployed.inputs == {
        "topic": "durable agents",
        "depth": 2,
        "options": {"depth": 4, "mode": "slow"},
        "tags": None,
    }
    schema = deployed.input_schema
    assert set(schema["properties"]) == {"topic", "depth", "options", "tags"}
    assert schema["required"] == ["topic"]
    assert schema["properties"]["depth"]["default"] == 2
    assert schema["$defs"]["Options"]["properties"]["mode"]["default"] == "fast"
    assert deployed.stack == "default"
    assert deployed.local is True
    assert deployed.created_at is not None
    assert deployed.target == f"{ROUTING_FILE.resolve()}:recorded_flow"
    # Stored as the seed's snapshot name, and read back the same way by every lookup.
    snapshot = zenml_client.get_snapshot(deployed.snapshot_id)
    assert snapshot.name == "kitaru::recorded_flow::v1"
    assert KitaruClient().deployments.get("recorded_flow") == deployed
    assert KitaruClient().deployments.get("recorded_flow", version=1) == deployed
    assert KitaruClient().deployments.list("recorded_flow") == [deployed]


def test_versions_count_one_two_three_per_flow_independently(zenml_client: Any) -> None:
    a, b = routing.counting_a, routing.counting_b
    got = [
        a.deploy(allow_local=True, topic="a1").version,
        a.deploy(allow_local=True, topic="a2").version,
        b.deploy(allow_local=True, topic="b1").version,
        a.deploy(allow_local=True, topic="a3").version,
        b.deploy(allow_local=True, topic="b2").version,
    ]
    assert got == [1, 2, 1, 3, 2]
    listed = deployments.list_deployments("counting_a")
    assert [item.version for item in listed] == [1, 2, 3]
    assert [item.inputs["topic"] for item in listed] == ["a1", "a2", "a3"]
    assert [item.version for item in deployments.list_deployments("counting_b")] == [1, 2]
    assert snapshot_names(zenml_client, "counting_a") == [
        "kitaru::counting_a::v1",
        "kitaru::counting_a::v2",
        "kitaru::counting_a::v3",
    ]
    # Every version keeps its own saved inputs: versions are not overwritten.
    assert deployments.get("counting_a", version=1).inputs == {"topic": "a1"}


def test_deploying_from_a_file_target_runs_that_flow(
    zenml_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(TESTS_DIR)
    deployed = KitaruClient().deployments.deploy(
        "flows_deploy/routing.py:target_flow", inputs={"topic": "from a file"}, allow_local=True
    )
    assert (deployed.flow, deployed.version, tags_of(deployed)) == (
        "target_flow",
        1,
        {"default": True},
    )
    assert deployed.inputs == {"topic": "from a file", "options": {"depth": 1, "mode": "fast"}}
    assert deployed.target == f"{ROUTING_FILE.resolve()}:target_flow"
    # The same flow object as the test imported (no second copy of the module).
    assert sys.modules["flows_deploy.routing"].target_flow is routing.target_flow

    # Invoked from anywhere (the deployment knows where its flow lives), with neither tag nor
    # version: the default route.
    monkeypatch.chdir(tmp_path)
    # The saved model input reaches the flow as a model again.
    handle = KitaruClient().deployments.invoke("target_flow", inputs={"topic": "elsewhere"})
    assert handle.wait(timeout=RUN_TIMEOUT) == {
        "topic": "elsewhere",
        "kind": "Options",
        "depth": 1,
        "mode": "fast",
    }


def test_deploying_from_a_module_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(TESTS_DIR)
    deployed = deployments.deploy(
        "flows_deploy.routing:module_target_flow", inputs={"topic": "t"}, allow_local=True
    )
    assert (deployed.flow, deployed.version) == ("module_target_flow", 1)
    assert deployed.target == f"{ROUTING_FILE.resolve()}:module_target_flow"


@pytest.mark.parametrize(
    ("target", "error_type"),
    [
        ("flows_deploy/routing.py", KitaruUsageError),
        ("flows_deploy/routing.py:", KitaruUsageError),
        ("flows_deploy/missing.py:target_flow", KitaruNotFoundError),
        ("flows_deploy/routing.py:no_such_flow", KitaruNotFoundError),
        ("flows_deploy/routing.py:_echo", KitaruUsageError),
    ],
)
def test_a_bad_target_is_refused_before_anything_is_saved(
    zenml_client: Any, monkeypatch: pytest.MonkeyPatch, target: str, error_type: type
) -> None:
    monkeypatch.chdir(TESTS_DIR)
    before = snapshot_names(zenml_client, "")
    with pytest.raises(error_type):
        deployments.deploy(target, inputs={"topic": "x"}, allow_local=True)
    assert snapshot_names(zenml_client, "") == before


def test_inputs_that_do_not_fit_the_flow_are_refused_at_deploy() -> None:
    flow = routing.inputs_flow
    missing = refused(KitaruUsageError, "inputs_flow", flow.deploy, allow_local=True)
    assert "inputs_flow" in missing.message and "topic" in missing.message
    refused(KitaruUsageError, "inputs_flow", flow.deploy, allow_local=True, topic="t", nope=1)
    assert deployments.list_deployments("inputs_flow") == []


def test_a_flow_outside_a_file_cannot_be_deployed() -> None:
    import types

    from kitaru_core.runtime.flow import Flow

    module = types.ModuleType("kitaru_deploy_test_fileless")
    monkey = pytest.MonkeyPatch()
    monkey.setitem(sys.modules, module.__name__, module)
    try:

        def fileless_flow(topic: str) -> str:
            return topic

        fileless_flow.__module__ = module.__name__
        error = refused(
            KitaruUsageError,
            "fileless_flow",
            deployments.deploy,
            Flow(fileless_flow),
            inputs={"topic": "x"},
            allow_local=True,
        )
    finally:
        monkey.undo()
    assert "not defined in a file" in error.message
    assert deployments.list_deployments("fileless_flow") == []


def test_each_deploy_attaches_exactly_one_routing_tag() -> None:
    flow, name = routing.one_tag_flow, "one_tag_flow"
    # The first deploy also gets `default`, whatever tag it asked for.
    flow.deploy(allow_local=True, tag="canary", exclusive=True, topic="t")
    assert routes(name) == [(1, [("canary", True), ("default", True)])]
    # Without a tag a deploy routes `default` — which moves it, as default is exclusive.
    flow.deploy(allow_local=True, topic="t")
    assert routes(name) == [(1, [("canary", True)]), (2, [("default", True)])]
    # A shared tag.
    flow.deploy(allow_local=True, tag="experiment", topic="t")
    assert routes(name)[2] == (3, [("experiment", False)])
    # `default` stays exclusive even when asked to be shared.
    deployed = deployments.deploy(
        flow, inputs={"topic": "t"}, tag="default", exclusive=False, allow_local=True
    )
    assert deployed.version == 4
    assert routes(name) == [
        (1, [("canary", True)]),
        (2, []),
        (3, [("experiment", False)]),
        (4, [("default", True)]),
    ]
    # A deploy cannot change a tag's mode: refused, and no version is saved.
    refused(
        KitaruStateError,
        name,
        flow.deploy,
        allow_local=True,
        tag="experiment",
        exclusive=True,
        topic="t",
    )
    refused(KitaruValidationError, name, flow.deploy, allow_local=True, tag="no way", topic="t")
    assert [version for version, _ in routes(name)] == [1, 2, 3, 4]


# --- the producer/consumer story of seed 004 -------------------------------------------------

_CONSUMER = textwrap.dedent(
    """
    import json, sys
    from kitaru_core import KitaruClient

    handle = KitaruClient().deployments.invoke(
        flow="story_agent",
        tag="stable",
        inputs={"topic": "consumer request"},
    )
    result = handle.wait(timeout=120)
    producer = sorted(m for m in sys.modules if m.startswith("flows_deploy"))
    print(json.dumps({"exec_id": handle.exec_id, "result": result, "producer": producer}))
    """
)


def _consume(workdir: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", _CONSUMER],
        cwd=workdir,  # nowhere near the producer's source
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_seed_producer_and_consumer_story(tmp_path: Path) -> None:
    agent, name, client = story.story_agent, "story_agent", KitaruClient()

    # Producer: the first deploy is v1 and routed as default.
    v1 = agent.deploy(allow_local=True, topic="durable agents", style="v1")
    assert (v1.version, tags_of(v1)) == (1, {"default": True})
    # A canary candidate: v2 with an exclusive canary route, nothing else.
    v2 = agent.deploy(
        allow_local=True, tag="canary", exclusive=True, topic="durable agents", style="v2"
    )
    assert (v2.version, tags_of(v2)) == (2, {"canary": True})
    assert routes(name) == [(1, [("default", True)]), (2, [("canary", True)])]

    # Test the canary: the invocation's topic wins, v2's deploy-time style stays. (The route
    # is resolved when invoke() is called, so the producer may go on while it runs.)
    canary = agent.invoke(tag="canary", topic="canary run")

    # Promote: `kitaru flow tag story_agent stable --version 2 --exclusive`.
    promoted = client.deployments.tag(name, "stable", version=2, exclusive=True)
    assert tags_of(promoted) == {"canary": True, "stable": True}
    # Add a shared benchmark label afterwards.
    labelled = client.deployments.tag(name, "benchmark", version=2)
    assert tags_of(labelled) == {"canary": True, "stable": True, "benchmark": False}
    assert client.deployments.get(name, tag="stable").version == 2
    assert client.deployments.get(name, tag="benchmark").version == 2
    assert client.deployments.get(name).version == 1  # default did not move
    assert canary.wait(timeout=RUN_TIMEOUT) == "v2: notes on canary run"

    # Pin a version; invocation inputs override every deploy-time input they name.
    pinned = agent.deployment(version=1)
    assert (pinned.flow, pinned.version) == (name, 1)
    pinned_run = pinned.invoke(topic="pinned run", style="override")

    # Consumer: another process that never imports the producer's module.
    consumed = _consume(tmp_path)
    assert pinned_run.wait(timeout=RUN_TIMEOUT) == "override: notes on pinned run"
    assert consumed["result"] == "v2: notes on consumer request"
    assert consumed["producer"] == []
    execution = client.executions.get(consumed["exec_id"])
    assert (execution.flow, execution.status) == (name, ExecutionStatus.COMPLETED)

    # Wrong deletions: v1 still holds default, v2 holds canary and stable. Nothing changes.
    for version in (1, 2):
        error = refused(KitaruStateError, name, client.deployments.delete, name, version=version)
        assert "exclusive tags" in error.message
    refused(KitaruStateError, name, client.deployments.delete, name, tag="default")
    refused(KitaruStateError, name, client.deployments.untag, name, "default", version=1)

    # The right deletion: move default to v2 first, then v1 goes.
    client.deployments.tag(name, "default", version=2)
    deleted = client.deployments.delete(name, version=1)
    assert (deleted.version, deleted.tags) == (1, [])
    assert routes(name) == [
        (2, [("benchmark", False), ("canary", True), ("default", True), ("stable", True)])
    ]
    gone = refused(KitaruNotFoundError, name, client.deployments.get, name, version=1)
    assert gone.details["versions"] == [2]


def test_a_deployment_object_is_pinned_when_it_is_looked_up() -> None:
    """``flow.deployment(tag=...)`` keeps the version the tag had then; the flow's own
    ``invoke`` and the client resolve the tag again on every call."""
    agent, name = story.pinned_agent, "pinned_agent"
    agent.deploy(allow_local=True, topic="t", style="v1")
    agent.deploy(allow_local=True, tag="stable", exclusive=True, topic="t", style="v2")
    held = agent.deployment(tag="stable")
    deployments.tag(name, "stable", version=1, exclusive=True)
    assert (held.flow, held.version) == (name, 2)
    assert held.deployment.inputs["style"] == "v2"
    assert repr(held) == "DeployedFlow(flow='pinned_agent', version=2)"
    assert agent.deployment(tag="stable").version == 1
    assert agent.deployment().version == 1  # default
    assert KitaruClient().deployments.get(name, tag="stable").version == 1


_MUTABLE_FLOW = """
from kitaru_core import flow


@flow
def mutable_agent(topic: str) -> str:
    return "{answer}: " + topic
"""


def test_a_local_version_keeps_the_code_it_was_deployed_with(tmp_path: Path) -> None:
    source = tmp_path / "mutable_agent.py"
    source.write_text(_MUTABLE_FLOW.format(answer="deployed"))
    deployed = KitaruClient().deployments.deploy(
        f"{source}:mutable_agent", inputs={"topic": "t"}, allow_local=True
    )
    source.write_text(_MUTABLE_FLOW.format(answer="edited"))
    handle = KitaruClient().deployments.invoke("mutable_agent", version=deployed.version)
    assert handle.wait(timeout=RUN_TIMEOUT) == "deployed: t"
    # A new version saves the edited code; the old one still runs what it was deployed with.
    edited = KitaruClient().deployments.deploy(
        f"{source}:mutable_agent", inputs={"topic": "t"}, allow_local=True
    )
    assert edited.version == deployed.version + 1
    assert (
        KitaruClient()
        .deployments.invoke("mutable_agent", version=edited.version)
        .wait(timeout=RUN_TIMEOUT)
        == "edited: t"
    )
    assert (
        KitaruClient()
        .deployments.invoke("mutable_agent", version=deployed.version)
        .wait(timeout=RUN_TIMEOUT)
        == "deployed: t"
    )


_HELPED_FLOW = """
from kitaru_core import checkpoint, flow

from orphan_helpers.wording import prefix


@checkpoint
def answer(topic: str) -> str:
    return prefix() + topic


@flow
def orphan_agent(topic: str) -> str:
    return answer(topic)
"""


def test_a_local_version_runs_after_its_source_files_are_deleted(
    tmp_path: Path, zenml_client: Any
) -> None:
    """The saved copy holds the whole source root, so local modules the flow imports come
    along; the execution's own source root is the copy, so it can be replayed later too."""
    project = tmp_path / "project"
    (project / "orphan_helpers").mkdir(parents=True)
    (project / "orphan_helpers" / "__init__.py").write_text("")
    (project / "orphan_helpers" / "wording.py").write_text(
        "def prefix() -> str:\n    return 'saved: '\n"
    )
    (project / "orphan_agent.py").write_text(_HELPED_FLOW)
    (project / "__pycache__").mkdir()  # bytecode is not source: it is left out
    (project / "__pycache__" / "orphan_agent.cpython-311.pyc").write_bytes(b"stale")
    deployed = deployments.deploy(
        f"{project / 'orphan_agent.py'}:orphan_agent", inputs={"topic": "t"}, allow_local=True
    )
    assert deployed.target == f"{(project / 'orphan_agent.py').resolve()}:orphan_agent"
    snapshot = zenml_client.get_snapshot(deployed.snapshot_id)
    source = snapshot.pipeline_configuration.extra["kitaru_deployment"]["source"]
    assert source["file"] == "orphan_agent.py"
    with tarfile.open(source["archive"]) as archive:  # the local stack's artifact store
        saved = sorted(archive.getnames())
    assert saved == ["orphan_agent.py", "orphan_helpers/__init__.py", "orphan_helpers/wording.py"]

    shutil.rmtree(project)
    handle = KitaruClient().deployments.invoke("orphan_agent", inputs={"topic": "gone"})
    assert handle.wait(timeout=RUN_TIMEOUT) == "saved: gone"
    replay = KitaruClient().executions.replay(handle.exec_id, from_="answer")
    assert replay.wait(timeout=RUN_TIMEOUT) == "saved: gone"


def test_a_source_root_too_large_to_save_is_refused_and_saves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kitaru_core.backend import source_archive

    source = tmp_path / "bulky_agent.py"
    source.write_text(_MUTABLE_FLOW.format(answer="bulky").replace("mutable_agent", "bulky_agent"))
    (tmp_path / "data.bin").write_bytes(b"x" * 4096)
    monkeypatch.setattr(source_archive, "MAX_SOURCE_BYTES", 1024)  # instead of writing 25 MB
    error = refused(
        KitaruUsageError,
        "bulky_agent",
        deployments.deploy,
        f"{source}:bulky_agent",
        inputs={"topic": "t"},
        allow_local=True,
    )
    assert error.message.startswith(f"The source root {tmp_path.resolve()} holds")
    assert "kitaru init" in error.hint
    assert error.details["limit_bytes"] == 1024
    assert error.details["bytes"] > 4096
    assert deployments.list_deployments("bulky_agent") == []


# --- selectors against the store -------------------------------------------------------------


def test_every_selector_error_is_distinct_and_changes_nothing() -> None:
    flow, name = routing.selector_flow, "selector_flow"
    flow.deploy(allow_local=True, topic="t")
    flow.deploy(allow_local=True, tag="benchmark", topic="t")
    flow.deploy(allow_local=True, tag="benchmark", topic="t")
    invoke = KitaruClient().deployments.invoke

    none = refused(KitaruNotFoundError, "never_deployed_flow", invoke, "never_deployed_flow")
    assert none.message == "Flow 'never_deployed_flow' has no deployments."
    tag = refused(KitaruNotFoundError, name, invoke, name, tag="prod")
    assert tag.message.startswith(f"Flow '{name}' has no tag 'prod'. Tags: benchmark, default")
    version = refused(KitaruNotFoundError, name, invoke, name, version=7)
    assert version.message == f"Flow '{name}' has no version 7. Versions: 1, 2, 3."
    shared = refused(KitaruStateError, name, invoke, name, tag="benchmark")
    assert shared.details["versions"] == [2, 3]
    both = refused(KitaruUsageError, name, invoke, name, version=1, tag="default")
    assert both.message == "Give either a version or a tag, not both."
    with pytest.raises(KitaruUsageError):
        routing.selector_flow.invoke(version=1, tag="default", topic="t")
    with pytest.raises(KitaruUsageError):
        routing.selector_flow.deployment(version=1, tag="default")
    messages = {e.message for e in (none, tag, version, shared, both)}
    assert len(messages) == 5


def test_deployments_with_no_default_route_say_so() -> None:
    """The window between saving a first version and routing it (a crashed deploy)."""
    from kitaru_core.backend import deployments as backend

    name = "no_default_flow"
    first = routing.no_default_flow.deploy(
        allow_local=True, tag="canary", exclusive=True, topic="t"
    )
    backend.remove_tag(first.snapshot_id, "default", True)
    error = refused(KitaruNotFoundError, name, routing.no_default_flow.invoke, topic="t")
    assert error.message == f"Flow '{name}' has deployments but none is routed as default."
    assert routing.no_default_flow.deployment(tag="canary").version == 1
    # The fix the hint gives.
    deployments.tag(name, "default", version=1)
    assert deployments.get(name).version == 1


def test_invocation_inputs_must_fit_the_flow() -> None:
    routing.strict_flow.deploy(allow_local=True, topic="t")
    with pytest.raises(KitaruUsageError):
        deployments.invoke("strict_flow", inputs=["not", "a", "mapping"])  # type: ignore[arg-type]
    # Checked against the saved input schema before anything starts (no producer code needed).
    with pytest.raises(KitaruUsageError) as info:
        KitaruClient().deployments.invoke("strict_flow", inputs={"topic": "x", "nope": 1})
    assert info.value.message == "Flow 'strict_flow' has no input named 'nope'."
    assert info.value.hint == "Its inputs: topic."
    # A value of the wrong type is refused too (by the worker, which has the flow's code).
    with pytest.raises(KitaruError) as bad_type:
        deployments.invoke("strict_flow", inputs={"topic": {"not": "a string"}})
    assert bad_type.value.code in ("usage_error", "validation_error"), bad_type.value.to_dict()
    assert KitaruClient().executions.list(flow="strict_flow") == []
