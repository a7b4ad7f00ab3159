"""Deployment routing rules on the real store: tags, deletion, racing deploys, the remote-stack
guard and curl (split from test_deployments.py, which covers deploying and invoking)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from deploy_support import (
    ROUTING_FILE,
    holders,
    refused,
    routes,
    snapshot_names,
    tags_of,
)
from flows_deploy import routing
from runtime_helpers import TESTS_DIR

from kitaru_core import (
    KitaruClient,
    KitaruError,
    KitaruNotFoundError,
    KitaruStateError,
    KitaruUsageError,
    KitaruValidationError,
)
from kitaru_core.errors import translate_exception as translate
from kitaru_core.hints import Surface
from kitaru_core.models import Deployment
from kitaru_core.services import deployments

# --- tags ------------------------------------------------------------------------------------


def test_tag_and_untag_follow_the_rules_and_refusals_change_nothing() -> None:
    flow, name, client = routing.tagging_flow, "tagging_flow", KitaruClient()
    for _ in range(3):
        flow.deploy(allow_local=True, tag="exp", topic="t")
    assert routes(name) == [
        (1, [("default", True), ("exp", False)]),
        (2, [("exp", False)]),
        (3, [("exp", False)]),
    ]
    # Refusals.
    refused(KitaruStateError, name, client.deployments.untag, name, "default", version=1)
    missing = refused(KitaruStateError, name, client.deployments.untag, name, "stable", version=2)
    assert "has no tag 'stable'" in missing.message
    refused(KitaruStateError, name, client.deployments.tag, name, "exp", version=1, exclusive=True)
    refused(KitaruNotFoundError, name, client.deployments.tag, name, "stable", version=9)
    refused(KitaruValidationError, name, client.deployments.tag, name, "bad tag", version=1)
    refused(KitaruValidationError, name, client.deployments.untag, name, "", version=1)
    refused(KitaruNotFoundError, name, client.deployments.untag, name, "exp", version=9)

    # `default` moves (never shared), and tagging a holder again is a no-op.
    client.deployments.tag(name, "default", version=3, exclusive=False)
    client.deployments.tag(name, "default", version=3)
    assert holders(name, "default") == [3]
    assert tags_of(deployments.get(name, version=3))["default"] is True
    # Removing a shared tag from one version leaves the others.
    client.deployments.untag(name, "exp", version=2)
    assert holders(name, "exp") == [1, 3]
    # Removing an exclusive tag.
    client.deployments.tag(name, "stable", version=2, exclusive=True)
    client.deployments.untag(name, "stable", version=2)
    assert holders(name, "stable") == []
    # Once gone everywhere, a tag may come back in the other mode.
    client.deployments.tag(name, "stable", version=1)
    client.deployments.tag(name, "stable", version=2)
    assert routes(name) == [
        (1, [("exp", False), ("stable", False)]),
        (2, [("stable", False)]),
        (3, [("default", True), ("exp", False)]),
    ]


def test_a_tag_cannot_have_both_modes_in_one_flow_but_may_in_another() -> None:
    routing.mode_flow.deploy(allow_local=True, tag="prod", exclusive=True, topic="t")
    routing.mode_flow.deploy(allow_local=True, topic="t")
    refused(KitaruStateError, "mode_flow", deployments.tag, "mode_flow", "prod", version=2)
    # The same tag name is independent per flow.
    routing.scope_b.deploy(allow_local=True, tag="prod", topic="t")  # shared there
    assert tags_of(deployments.get("scope_b", version=1))["prod"] is False
    assert tags_of(deployments.get("mode_flow", version=1))["prod"] is True


def test_an_exclusive_tag_moves_only_within_its_flow() -> None:
    for flow in (routing.scope_a, routing.scope_b):
        flow.deploy(allow_local=True, topic="t")
        flow.deploy(allow_local=True, tag="canary", topic="t")
    deployments.tag("scope_a", "stable", version=2, exclusive=True)
    deployments.tag("scope_b", "stable", version=1, exclusive=True)
    deployments.tag("scope_a", "stable", version=1, exclusive=True)
    assert holders("scope_a", "stable") == [1]
    assert holders("scope_b", "stable") == [1]
    deployments.tag("scope_b", "stable", version=2, exclusive=True)
    assert holders("scope_a", "stable") == [1]
    assert holders("scope_b", "stable") == [2]


def test_moving_an_exclusive_tag_is_atomic_for_concurrent_readers() -> None:
    name = "atomic_flow"
    for _ in range(3):
        routing.atomic_flow.deploy(allow_local=True, topic="t")
    deployments.tag(name, "stable", version=1, exclusive=True)

    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        # Resolving the tag fails on zero holders ("no tag") and on two ("shared by versions").
        while not stop.is_set():
            try:
                seen.append(deployments.get(name, tag="stable").version)
            except BaseException as exc:
                errors.append(exc)
                return

    reader = threading.Thread(target=read, name="route-reader", daemon=True)
    reader.start()
    try:
        for step in range(15):
            target = (step % 3) + 1
            moved = deployments.tag(name, "stable", version=target, exclusive=True)
            assert tags_of(moved)["stable"] is True
            assert holders(name, "stable") == [target]
    finally:
        stop.set()
        reader.join(60)
    assert not errors, [translate(e) for e in errors]
    assert len(set(seen)) >= 2, seen  # the reader really read while the tag moved


# --- deletion --------------------------------------------------------------------------------


def test_deletion_refuses_exclusive_holders_and_changes_nothing() -> None:
    flow, name, client = routing.deletion_flow, "deletion_flow", KitaruClient()
    flow.deploy(allow_local=True, topic="v1")
    flow.deploy(allow_local=True, tag="canary", exclusive=True, topic="v2")
    flow.deploy(allow_local=True, tag="exp", topic="v3")
    flow.deploy(allow_local=True, tag="exp", topic="v4")
    delete = client.deployments.delete

    held = refused(KitaruStateError, name, delete, name, version=1)
    assert held.details["exclusive_tags"] == ["default"]
    assert "default can only be moved" in held.hint
    assert refused(KitaruStateError, name, delete, name, version=2).details["exclusive_tags"] == [
        "canary"
    ]
    refused(KitaruStateError, name, delete, name, tag="canary")
    refused(KitaruStateError, name, delete, name, tag="exp")  # ambiguous: versions 3 and 4
    refused(KitaruNotFoundError, name, delete, name, version=9)
    refused(KitaruUsageError, name, delete, name, version=3, tag="exp")
    refused(KitaruNotFoundError, "never_deployed_flow", delete, "never_deployed_flow", version=1)

    # Versions with only shared tags (or none) can go, by version or by a tag that picks one.
    assert delete(name, version=3).inputs == {"topic": "v3"}
    assert delete(name, tag="exp").version == 4
    client.deployments.untag(name, "canary", version=2)
    assert delete(name, version=2).tags == []
    assert routes(name) == [(1, [("default", True)])]
    with pytest.raises(KitaruNotFoundError):
        client.deployments.invoke(name, version=2)


# --- concurrent deploys ----------------------------------------------------------------------

_RACER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from kitaru_core.backend.bootstrap import zenml_client
    from flows_deploy.race import race_flow

    zenml_client()  # connect before the start line, so the deploys really overlap
    folder, index = Path(sys.argv[1]), sys.argv[2]
    (folder / f"ready-{index}").touch()
    while not (folder / "go").exists():
        time.sleep(0.01)
    deployed = race_flow.deploy(allow_local=True, topic=f"racer {index}")
    print(f"VERSION {deployed.version} {index}")
    """
)


def test_concurrent_deploys_from_several_processes_get_distinct_versions(tmp_path: Path) -> None:
    racers = 4
    env = {**os.environ, "PYTHONPATH": str(TESTS_DIR)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(tmp_path), str(index)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(racers)
    ]
    try:
        deadline = time.monotonic() + 180
        while len(list(tmp_path.glob("ready-*"))) < racers:
            assert time.monotonic() < deadline, "the racers did not get ready"
            assert all(p.poll() is None for p in processes), [p.communicate() for p in processes]
            time.sleep(0.05)
        (tmp_path / "go").touch()
        outputs = [p.communicate(timeout=180) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert all(p.returncode == 0 for p in processes), [err[-3000:] for _, err in outputs]
    won: dict[int, str] = {}
    for out, _ in outputs:
        line = next(line for line in out.splitlines() if line.startswith("VERSION "))
        _, version, index = line.split()
        won[int(version)] = index
    assert sorted(won) == [1, 2, 3, 4]
    listed = deployments.list_deployments("race_flow")
    assert [item.version for item in listed] == [1, 2, 3, 4]
    # Each version saved its own racer's inputs, and exactly one of them holds default.
    assert {item.version: item.inputs["topic"] for item in listed} == {
        version: f"racer {index}" for version, index in won.items()
    }
    assert len(holders("race_flow", "default")) == 1


# --- the remote-stack guard ------------------------------------------------------------------


def test_a_local_stack_is_refused_without_allow_local(zenml_client: Any) -> None:
    flow, name = routing.guard_flow, "guard_flow"
    attempts = [
        lambda: flow.deploy(topic="t"),
        lambda: flow.deploy(stack="default", tag="canary", exclusive=True, topic="t"),
        lambda: KitaruClient().deployments.deploy(
            f"{ROUTING_FILE}:guard_flow", inputs={"topic": "t"}
        ),
    ]
    for attempt in attempts:
        error = refused(KitaruStateError, name, attempt)
        assert "Stack 'default' runs flows locally" in error.message
        for kind in ("kubernetes", "vertex", "sagemaker", "azureml"):
            assert kind in error.message
        assert "allow_local" in error.hint
    assert snapshot_names(zenml_client, name) == []
    unknown = refused(
        KitaruNotFoundError, name, flow.deploy, stack="nope", allow_local=True, topic="t"
    )
    assert "No stack named 'nope'" in unknown.message
    assert snapshot_names(zenml_client, name) == []


def test_a_stack_that_runs_containers_locally_is_refused_too(zenml_client: Any) -> None:
    """``local_docker`` is not the ``local`` flavor, but the server cannot run it either."""
    from zenml.enums import StackComponentType

    name = f"deploy-local-docker-{os.getpid()}"
    zenml_client.create_stack_component(
        name=name,
        flavor="local_docker",
        component_type=StackComponentType.ORCHESTRATOR,
        configuration={},
    )
    zenml_client.create_stack(
        name=name,
        components={
            StackComponentType.ORCHESTRATOR: name,
            StackComponentType.ARTIFACT_STORE: "default",
        },
    )
    try:
        error = refused(
            KitaruStateError, "guard_flow", routing.guard_flow.deploy, stack=name, topic="t"
        )
        assert f"Stack '{name}' runs flows locally" in error.message
        assert error.details["remote_types"] == ["kubernetes", "vertex", "sagemaker", "azureml"]
        assert snapshot_names(zenml_client, "guard_flow") == []
    finally:  # other tests of this process expect only the stacks they made
        zenml_client.zen_store.delete_stack(zenml_client.get_stack(name).id)
        zenml_client.delete_stack_component(name, StackComponentType.ORCHESTRATOR)


def test_deploying_to_a_remote_stack_without_its_integrations_saves_nothing(
    zenml_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registered Kubernetes stack passes the guard; saving its snapshot needs the stack's
    ZenML integrations (s3fs for the S3 artifact store, then a container build), which do not
    exist here. The refusal must be a Kitaru error, and nothing may be left behind."""
    # This checkout is an editable install, which a remote image cannot install; name an
    # installable requirement so that the integration check is the one that refuses.
    monkeypatch.setenv("KITARU_IMAGE_REQUIREMENT", "kitaru-mcp==0.1.0")
    from kitaru_core.requests.stack_fields import MCP_LABELS
    from kitaru_core.requests.stacks import build_stack_create_request, build_stack_delete_request
    from kitaru_core.services.stacks import create_stack, delete_stack

    stack = f"deploy-k8s-{os.getpid()}"
    create_stack(
        build_stack_create_request(
            name=stack,
            activate=False,
            stack_type="kubernetes",
            artifact_store="s3://b/k",
            container_registry="123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            cluster="c",
            region="eu-west-1",
            verify=False,
            labels=MCP_LABELS,
        )
    )
    try:
        with pytest.raises(KitaruError) as info:
            routing.remote_flow.deploy(stack=stack, topic="t")
    finally:  # other tests of this process expect only the stacks they made
        delete_stack(build_stack_delete_request(stack, recursive=True))
    assert zenml_client.list_stacks(name=stack).total == 0
    error = info.value
    assert error.code == "backend_error", error.to_dict()
    assert error.message.startswith(
        f"Could not save a deployment of flow 'remote_flow' on stack '{stack}': "
    )
    assert "s3fs" in error.message
    assert "zenml integration install s3" in error.hint
    assert error.details["stack"] == stack
    assert "Traceback" not in error.message
    assert deployments.list_deployments("remote_flow") == []
    assert snapshot_names(zenml_client, "remote_flow") == []


# --- curl ------------------------------------------------------------------------------------


@pytest.fixture
def curl_deployment() -> Deployment:
    """``curl_flow`` v1, deployed once per test process."""
    if not deployments.list_deployments("curl_flow"):
        routing.curl_flow.deploy(allow_local=True, topic="t")
    return deployments.get("curl_flow", version=1)


def test_curl_is_refused_for_local_deployments(curl_deployment: Deployment) -> None:
    error = refused(KitaruStateError, "curl_flow", KitaruClient().deployments.curl, "curl_flow")
    assert "local development deployment" in error.message
    refused(KitaruUsageError, "curl_flow", deployments.curl, "curl_flow", version=1, tag="x")
    refused(KitaruNotFoundError, "curl_flow", deployments.curl, "curl_flow", tag="prod")


def test_curl_for_a_remote_deployment(
    curl_deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remote deployment cannot be saved here (it needs a cloud build, see above), so the
    service's lookup is given a stand-in: the real local deployment, marked remote."""
    real = curl_deployment
    remote = real.model_copy(update={"local": False, "stack": "prod-k8s"})
    monkeypatch.setattr(deployments, "get", lambda flow, **_: remote)

    # Without a server connection (this machine uses the local store).
    error = refused(KitaruStateError, "curl_flow", deployments.curl, "curl_flow")
    assert "needs a connection to a Kitaru server" in error.message
    assert "kitaru login" in error.hint_for(Surface.CLI) and "connect(" in error.hint

    # With one: a copy-pasteable command that fetches a token, pinned to the resolved version.
    monkeypatch.setattr(
        "kitaru_core.backend.bootstrap.server_url", lambda: "https://kitaru.example.com/"
    )
    monkeypatch.setenv("KITARU_AUTH_TOKEN", "kat_secret_value")
    curl = KitaruClient().deployments.curl(
        "curl_flow", tag="default", inputs={"topic": "from curl"}
    )
    assert (curl.flow, curl.version) == ("curl_flow", real.version)
    assert curl.command.startswith('TOKEN="$(kitaru auth token)"\n')
    assert (
        f"https://kitaru.example.com/api/v1/pipeline_snapshots/{real.snapshot_id}/runs"
        in curl.command
    )
    assert '-H "Authorization: Bearer $TOKEN"' in curl.command
    assert "kat_secret_value" not in curl.command
    body = curl.command.split("-d ", 1)[1].strip().strip("'")
    assert json.loads(body) == {"run_configuration": {"parameters": {"topic": "from curl"}}}
    assert f"pinned to version {real.version}" in curl.warning
    assert "tag 'default'" in curl.warning
