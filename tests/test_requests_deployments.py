"""Pure rules of deployments (SPEC §5, seed 004): tag names, selectors and their distinct errors,
tag modes, the reserved ``default`` tag, deletion, snapshot names and version numbers.

No ZenML and no store: these rules run before any surface touches the backend.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from kitaru_core.errors import (
    KitaruError,
    KitaruNotFoundError,
    KitaruStateError,
    KitaruUsageError,
    KitaruValidationError,
)
from kitaru_core.hints import Surface
from kitaru_core.requests.deployments import (
    DEFAULT_TAG,
    REMOTE_STACK_TYPES,
    VersionTags,
    check_deletable,
    check_selector,
    check_tag,
    check_tag_mode,
    check_untag,
    check_version,
    effective_exclusive,
    next_version,
    parse_snapshot_name,
    remote_guard_message,
    resolve_selector,
    runs_remotely,
    snapshot_name,
)

FLOW = "research_agent"


def _story() -> list[VersionTags]:
    """The seed's routing story after promotion: v1 default, v2 canary + stable + benchmark,
    v3 benchmark (shared), v4 no tags."""
    return [
        VersionTags(version=1, tags={"default": True}),
        VersionTags(version=2, tags={"canary": True, "stable": True, "benchmark": False}),
        VersionTags(version=3, tags={"benchmark": False, "team-a": False}),
        VersionTags(version=4, tags={}),
    ]


def _raises(
    error_type: type[KitaruError], call: Callable[..., object], *args: Any, **kwargs: Any
) -> KitaruError:
    with pytest.raises(error_type) as info:
        call(*args, **kwargs)
    assert type(info.value) is error_type, type(info.value)
    return info.value


def test_these_rules_import_no_zenml() -> None:
    code = (
        "import sys, kitaru_core.requests.deployments as d; "
        "d.resolve_selector('f', [d.VersionTags(1, {'default': True})], version=None, tag=None); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('zenml', 'sqlalchemy')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


# --- tag names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag", ["default", "stable", "prod", "team-a", "v1.2", "A_b-c.d", "9lives", "x" * 63]
)
def test_valid_tag_names_are_accepted_unchanged(tag: str) -> None:
    assert check_tag(tag) == tag


def test_surrounding_whitespace_is_trimmed_from_a_tag() -> None:
    assert check_tag("  stable \n") == "stable"


@pytest.mark.parametrize(
    "tag",
    [
        None,
        "",
        "   ",
        "-leading-dash",
        ".hidden",
        "_under",
        "has space",
        "kitaru:x:stable",  # the backend's own prefix can never be spelled by a user
        "a/b",
        "ünïcode",
        "x" * 64,
        "semi;colon",
    ],
)
def test_invalid_tag_names_are_validation_errors_on_the_given_field(tag: str | None) -> None:
    error = _raises(KitaruValidationError, check_tag, tag, field="--tag")
    assert error.code == "validation_error"
    assert repr(tag) in error.message
    assert "letters, digits" in error.message
    assert error.details["fields"] == {"--tag": "invalid tag name"}


# --- versions --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2, 10_000])
def test_positive_whole_versions_are_accepted(version: int) -> None:
    assert check_version(version) == version


@pytest.mark.parametrize("version", [0, -1, True, False, "2", 2.0, None])
def test_other_versions_are_validation_errors(version: object) -> None:
    error = _raises(KitaruValidationError, check_version, version, field="--version")
    assert error.details["fields"] == {"--version": "must be a positive whole number"}
    assert repr(version) in error.message


def test_next_version_is_one_more_than_the_highest_existing() -> None:
    assert next_version([]) == 1
    assert next_version([1]) == 2
    assert next_version([1, 2, 3]) == 4
    assert next_version([3, 1]) == 4
    # Deleted versions in the middle are not refilled: only the highest counts (seed 004).
    assert next_version([1, 5]) == 6


# --- snapshot names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flow", "version"), [("research_agent", 3), ("f", 1), ("agent_v2", 12), ("a::b", 7)]
)
def test_snapshot_names_round_trip(flow: str, version: int) -> None:
    name = snapshot_name(flow, version)
    assert name == f"kitaru::{flow}::v{version}"
    assert parse_snapshot_name(name) == (flow, version)


def test_the_seed_example_snapshot_name() -> None:
    assert snapshot_name("research_agent", 3) == "kitaru::research_agent::v3"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "research_agent",
        "kitaru::research_agent",
        "kitaru::research_agent::v",
        "kitaru::research_agent::v0",
        "kitaru::research_agent::v01",
        "kitaru::research_agent::3",
        "kitaru::::v1",
        "zenml::research_agent::v1",
        "kitaru::research_agent::v1-draft",
    ],
)
def test_other_snapshot_names_are_not_deployments(name: str) -> None:
    assert parse_snapshot_name(name) is None


def test_a_missing_snapshot_name_is_not_a_deployment() -> None:
    assert parse_snapshot_name(None) is None  # type: ignore[arg-type]


# --- default is always exclusive -------------------------------------------------------------


@pytest.mark.parametrize("asked", [True, False])
def test_default_is_always_exclusive(asked: bool) -> None:
    assert effective_exclusive(DEFAULT_TAG, asked) is True


@pytest.mark.parametrize("asked", [True, False])
def test_other_tags_keep_the_mode_asked_for(asked: bool) -> None:
    assert effective_exclusive("canary", asked) is asked


# --- selectors -------------------------------------------------------------------------------


def test_neither_version_nor_tag_selects_the_default_tag() -> None:
    assert check_selector(None, None) == (None, DEFAULT_TAG)
    assert resolve_selector(FLOW, _story(), version=None, tag=None) == 1


def test_a_version_selector_is_pinned() -> None:
    assert check_selector(2, None) == (2, "")
    assert resolve_selector(FLOW, _story(), version=4, tag=None) == 4


def test_a_tag_selector_follows_the_tag() -> None:
    assert check_selector(None, " stable ") == (None, "stable")
    assert resolve_selector(FLOW, _story(), version=None, tag="stable") == 2
    assert resolve_selector(FLOW, _story(), version=None, tag="team-a") == 3  # shared, one holder


def test_version_and_tag_together_are_a_usage_error() -> None:
    error = _raises(KitaruUsageError, check_selector, 2, "stable")
    assert error.message == "Give either a version or a tag, not both."
    assert "--version" in error.hint_for(Surface.CLI) and "--tag" in error.hint_for(Surface.CLI)
    assert "version=N" in error.hint and "tag=" in error.hint  # the SDK's words
    assert error.details == {"version": 2, "tag": "stable"}
    # The same error wins over any store state, even an empty one.
    again = _raises(KitaruUsageError, resolve_selector, FLOW, [], version=2, tag="stable")
    assert again.message == error.message


def test_a_bad_selector_value_is_a_validation_error() -> None:
    _raises(KitaruValidationError, resolve_selector, FLOW, _story(), version=0, tag=None)
    _raises(KitaruValidationError, resolve_selector, FLOW, _story(), version=None, tag="bad tag")


def test_a_flow_without_deployments_says_so() -> None:
    for version, tag in [(None, None), (1, None), (None, "stable")]:
        error = _raises(KitaruNotFoundError, resolve_selector, FLOW, [], version=version, tag=tag)
        assert error.message == f"Flow '{FLOW}' has no deployments."
        assert f"kitaru deploy <file.py>:{FLOW}" in error.hint_for(Surface.CLI)
        assert "deployments.deploy(" in error.hint
        assert error.details == {"flow": FLOW}


def test_deployments_without_a_default_route_say_so() -> None:
    versions = [VersionTags(1, {"canary": True}), VersionTags(2, {"benchmark": False})]
    error = _raises(KitaruNotFoundError, resolve_selector, FLOW, versions, version=None, tag=None)
    assert error.message == f"Flow '{FLOW}' has deployments but none is routed as default."
    cli_hint = error.hint_for(Surface.CLI)
    assert "--tag" in cli_hint and "--version" in cli_hint
    assert f"kitaru flow tag {FLOW} default --version N" in cli_hint
    assert error.details == {
        "flow": FLOW,
        "tags": ["benchmark", "canary"],
        "versions": [1, 2],
    }
    # Asking for the default tag explicitly is the same question.
    explicit = _raises(
        KitaruNotFoundError, resolve_selector, FLOW, versions, version=None, tag="default"
    )
    assert explicit.message == error.message


def test_an_unknown_tag_lists_the_tags_that_exist() -> None:
    error = _raises(KitaruNotFoundError, resolve_selector, FLOW, _story(), version=None, tag="prod")
    assert error.message == (
        f"Flow '{FLOW}' has no tag 'prod'. Tags: benchmark, canary, default, stable, team-a."
    )
    assert error.details == {
        "flow": FLOW,
        "tag": "prod",
        "tags": ["benchmark", "canary", "default", "stable", "team-a"],
    }


def test_an_unknown_version_lists_the_versions_that_exist() -> None:
    error = _raises(KitaruNotFoundError, resolve_selector, FLOW, _story(), version=9, tag=None)
    assert error.message == f"Flow '{FLOW}' has no version 9. Versions: 1, 2, 3, 4."
    assert error.details == {"flow": FLOW, "version": 9, "versions": [1, 2, 3, 4]}


def test_a_shared_tag_on_several_versions_is_ambiguous() -> None:
    error = _raises(
        KitaruStateError, resolve_selector, FLOW, _story(), version=None, tag="benchmark"
    )
    assert error.code == "invalid_state"
    assert error.message == (
        f"Tag 'benchmark' of flow '{FLOW}' is shared by versions 2, 3, so it does not pick one "
        "version."
    )
    assert "--version" in error.hint_for(Surface.CLI) and "version=N" in error.hint
    assert error.details == {"flow": FLOW, "tag": "benchmark", "versions": [2, 3]}


def test_every_way_a_selector_fails_has_its_own_message() -> None:
    no_default = [VersionTags(1, {"canary": True})]
    failures = [
        (lambda: resolve_selector(FLOW, [], version=None, tag=None)),
        (lambda: resolve_selector(FLOW, no_default, version=None, tag=None)),
        (lambda: resolve_selector(FLOW, _story(), version=None, tag="prod")),
        (lambda: resolve_selector(FLOW, _story(), version=9, tag=None)),
        (lambda: resolve_selector(FLOW, _story(), version=None, tag="benchmark")),
        (lambda: resolve_selector(FLOW, _story(), version=1, tag="stable")),
    ]
    seen: list[tuple[str, str]] = []
    for failure in failures:
        with pytest.raises(KitaruError) as info:
            failure()
        seen.append((info.value.code, info.value.message.split(".")[0]))
    assert len(set(seen)) == len(failures), seen


# --- tag modes -------------------------------------------------------------------------------


def test_a_tag_keeps_the_mode_it_has_in_a_flow() -> None:
    versions = _story()
    check_tag_mode(FLOW, versions, tag="stable", exclusive=True)
    check_tag_mode(FLOW, versions, tag="benchmark", exclusive=False)
    check_tag_mode(FLOW, versions, tag="brand-new", exclusive=True)
    check_tag_mode(FLOW, versions, tag="brand-new", exclusive=False)
    check_tag_mode(FLOW, [], tag="stable", exclusive=False)


def test_a_shared_tag_cannot_be_used_as_exclusive() -> None:
    error = _raises(
        KitaruStateError, check_tag_mode, FLOW, _story(), tag="benchmark", exclusive=True
    )
    assert error.message == f"Tag 'benchmark' of flow '{FLOW}' is shared (on version 2)."
    assert "untag it everywhere" in error.hint
    assert error.details == {"flow": FLOW, "tag": "benchmark", "mode": "shared"}


def test_an_exclusive_tag_cannot_be_used_as_shared() -> None:
    error = _raises(KitaruStateError, check_tag_mode, FLOW, _story(), tag="stable", exclusive=False)
    assert error.message == f"Tag 'stable' of flow '{FLOW}' is exclusive (on version 2)."
    assert error.details["mode"] == "exclusive"


def test_default_can_never_be_shared() -> None:
    # Callers pass the effective mode; asking for a shared default still lands on exclusive.
    check_tag_mode(
        FLOW, _story(), tag=DEFAULT_TAG, exclusive=effective_exclusive(DEFAULT_TAG, False)
    )


# --- untag and delete ------------------------------------------------------------------------


def test_default_cannot_be_removed() -> None:
    error = _raises(KitaruStateError, check_untag, DEFAULT_TAG)
    assert error.message == "The default tag cannot be removed, only moved to another version."
    assert "kitaru flow tag FLOW default --version N" in error.hint_for(Surface.CLI)
    assert error.details == {"tag": DEFAULT_TAG}


@pytest.mark.parametrize("tag", ["stable", "canary", "benchmark", "defaults"])
def test_other_tags_can_be_removed(tag: str) -> None:
    check_untag(tag)


def test_a_version_with_exclusive_tags_cannot_be_deleted() -> None:
    version = VersionTags(2, {"stable": True, "canary": True, "benchmark": False})
    error = _raises(KitaruStateError, check_deletable, FLOW, version)
    assert error.message == (
        f"Version 2 of flow '{FLOW}' holds exclusive tags (canary, stable) and cannot be deleted."
    )
    assert "default can only be moved" in error.hint
    assert error.details == {"flow": FLOW, "version": 2, "exclusive_tags": ["canary", "stable"]}


def test_the_default_version_cannot_be_deleted() -> None:
    error = _raises(KitaruStateError, check_deletable, FLOW, VersionTags(1, {"default": True}))
    assert error.details["exclusive_tags"] == ["default"]


def test_versions_with_only_shared_tags_or_none_can_be_deleted() -> None:
    check_deletable(FLOW, VersionTags(3, {"benchmark": False, "team-a": False}))
    check_deletable(FLOW, VersionTags(4, {}))


# --- the remote-stack guard ------------------------------------------------------------------


def test_the_remote_stack_guard_names_the_stack_and_the_remote_types() -> None:
    error = remote_guard_message("default")
    assert isinstance(error, KitaruStateError)
    assert error.code == "invalid_state"
    assert "Stack 'default' runs flows locally" in error.message
    for kind in ("kubernetes", "vertex", "sagemaker", "azureml"):
        assert kind in error.message
    assert set(REMOTE_STACK_TYPES) == {"kubernetes", "vertex", "sagemaker", "azureml"}
    assert "allow_local=True" in error.hint and "--allow-local" in error.hint_for(Surface.CLI)
    assert "allow_local=true" in error.hint_for(Surface.MCP)
    assert "--stack" in error.hint_for(Surface.CLI) and "stack=" in error.hint
    assert error.details == {"stack": "default", "remote_types": list(REMOTE_STACK_TYPES)}


@pytest.mark.parametrize("flavor", ["kubernetes", "vertex", "sagemaker", "azureml"])
def test_stacks_with_a_remote_orchestrator_run_remotely(flavor: str) -> None:
    assert runs_remotely([flavor]) is True


@pytest.mark.parametrize(
    "flavors", [[], ["local"], ["local_docker"], ["airflow"], ["kubernetes", "local"]]
)
def test_other_stacks_do_not_run_remotely(flavors: list[str]) -> None:
    # local_docker runs containers on the deploying machine, not on the server.
    assert runs_remotely(flavors) is False
