"""Pure rules of deployments: tag names, selectors, version numbers and tag routing."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from kitaru_core.errors import (
    KitaruNotFoundError,
    KitaruStateError,
    KitaruUsageError,
    KitaruValidationError,
)
from kitaru_core.hints import DEPLOYMENT_TAGS, Hint

DEFAULT_TAG = "default"
SNAPSHOT_PREFIX = "kitaru::"
REMOTE_STACK_TYPES = ("kubernetes", "vertex", "sagemaker", "azureml")
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_VERSION_NAME = re.compile(r"^kitaru::(?P<flow>.+)::v(?P<version>[1-9][0-9]*)$")


@dataclass(frozen=True)
class VersionTags:
    """One deployed version and its routing tags (``name → exclusive``)."""

    version: int
    tags: dict[str, bool]


def check_tag(tag: str | None, *, field: str = "tag") -> str:
    text = (tag or "").strip()
    if not _TAG.match(text):
        raise KitaruValidationError(
            f"{tag!r} is not a valid tag: use letters, digits, '_', '.' and '-' "
            "(starting with a letter or digit, at most 63 characters).",
            fields={field: "invalid tag name"},
        )
    return text


def check_version(version: int | None, *, field: str = "version") -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise KitaruValidationError(
            f"version must be a whole number >= 1, got {version!r}.",
            fields={field: "must be a positive whole number"},
        )
    return version


def snapshot_name(flow: str, version: int) -> str:
    """How a deployment version is stored: ``kitaru::<flow>::v<N>``."""
    return f"{SNAPSHOT_PREFIX}{flow}::v{version}"


def parse_snapshot_name(name: str) -> tuple[str, int] | None:
    match = _VERSION_NAME.match(name or "")
    return (match["flow"], int(match["version"])) if match else None


def next_version(existing: Sequence[int]) -> int:
    return max(existing, default=0) + 1


def effective_exclusive(tag: str, exclusive: bool) -> bool:
    """``default`` is always exclusive, whatever the caller asked."""
    return True if tag == DEFAULT_TAG else exclusive


def check_selector(version: int | None, tag: str | None) -> tuple[int | None, str]:
    """Version xor tag; neither means the ``default`` tag."""
    if version is not None and tag is not None:
        raise KitaruUsageError(
            "Give either a version or a tag, not both.",
            hint=Hint(
                sdk="Pass version=N to pin a version, or tag='T' to follow a route.",
                cli="Use --version N to pin a version, or --tag T to follow a route.",
                mcp="Pass version to pin a version, or tag to follow a route.",
            ),
            details={"version": version, "tag": tag},
        )
    if version is not None:
        return check_version(version), ""
    return None, check_tag(tag) if tag is not None else DEFAULT_TAG


def _deploy_first(flow: str) -> Hint:
    """What to do about a flow without deployments — or a flow given as a target by mistake."""
    if ":" in flow:  # e.g. "review.py:review": a target, where the flow's name belongs
        name = flow.rpartition(":")[2] or "NAME"
        text = f"Name the flow by its name ('{name}'), not by its file target."
        return Hint(sdk=text, cli=text, mcp=text)
    return Hint(
        sdk=f"Deploy it first: `KitaruClient().deployments.deploy('<file.py>:{flow}')`.",
        cli=f"Deploy it first: `kitaru deploy <file.py>:{flow}`.",
        mcp=f"{{tool:kitaru_deployments_deploy|deploy it first}} (target '<file.py>:{flow}').",
    )


def resolve_selector(
    flow: str, versions: Sequence[VersionTags], *, version: int | None, tag: str | None
) -> int:
    """The version a selector routes to, with a distinct error for each way it can fail."""
    pinned, wanted = check_selector(version, tag)
    if not versions:
        raise KitaruNotFoundError(
            f"Flow '{flow}' has no deployments.",
            hint=_deploy_first(flow),
            details={"flow": flow},
        )
    known = sorted(v.version for v in versions)
    if pinned is not None:
        if pinned not in known:
            raise KitaruNotFoundError(
                f"Flow '{flow}' has no version {pinned}. Versions: {_join(known)}.",
                hint=DEPLOYMENT_TAGS,
                details={"flow": flow, "version": pinned, "versions": known},
            )
        return pinned
    holders = sorted(v.version for v in versions if wanted in v.tags)
    if not holders:
        all_tags = sorted({t for v in versions for t in v.tags})
        if wanted == DEFAULT_TAG:
            raise KitaruNotFoundError(
                f"Flow '{flow}' has deployments but none is routed as default.",
                hint=Hint(
                    sdk="Pass tag= or version=, or move default with "
                    f"`KitaruClient().deployments.tag('{flow}', 'default', version=N)`.",
                    cli="Invoke with --tag or --version, or move default with "
                    f"`kitaru flow tag {flow} default --version N`.",
                    mcp="Pass tag or version, or "
                    "{tool:kitaru_deployments_tag|move the default tag to a version}.",
                ),
                details={"flow": flow, "tags": all_tags, "versions": known},
            )
        raise KitaruNotFoundError(
            f"Flow '{flow}' has no tag '{wanted}'. Tags: {_join(all_tags)}.",
            hint=DEPLOYMENT_TAGS,
            details={"flow": flow, "tag": wanted, "tags": all_tags},
        )
    if len(holders) > 1:
        raise KitaruStateError(
            f"Tag '{wanted}' of flow '{flow}' is shared by versions {_join(holders)}, so it "
            "does not pick one version.",
            hint=Hint(
                sdk="Pass version=N, or make the tag exclusive on one version "
                "(`KitaruClient().deployments.tag(..., exclusive=True)`).",
                cli="Invoke with --version N, or make the tag exclusive on one version "
                "(`kitaru flow tag FLOW TAG --version N --exclusive`).",
                mcp="Pass version, or make the tag exclusive on one version "
                "({tool:kitaru_deployments_tag} with exclusive=true).",
            ),
            details={"flow": flow, "tag": wanted, "versions": holders},
        )
    return holders[0]


def check_tag_mode(
    flow: str, versions: Sequence[VersionTags], *, tag: str, exclusive: bool
) -> None:
    """A tag is either exclusive or shared within one flow, never both."""
    for item in versions:
        if tag in item.tags and item.tags[tag] != exclusive:
            mode = "exclusive" if item.tags[tag] else "shared"
            raise KitaruStateError(
                f"Tag '{tag}' of flow '{flow}' is {mode} (on version {item.version}).",
                hint=f"Use it as {mode}, or untag it everywhere first.",
                details={"flow": flow, "tag": tag, "mode": mode},
            )


def check_untag(tag: str) -> None:
    if tag == DEFAULT_TAG:
        raise KitaruStateError(
            "The default tag cannot be removed, only moved to another version.",
            hint=Hint(
                sdk="Move it: `KitaruClient().deployments.tag(flow, 'default', version=N)`.",
                cli="Move it: `kitaru flow tag FLOW default --version N`.",
                mcp="{tool:kitaru_deployments_tag|move it} (tag 'default' on another version).",
            ),
            details={"tag": tag},
        )


def check_deletable(flow: str, item: VersionTags) -> None:
    held = sorted(tag for tag, exclusive in item.tags.items() if exclusive)
    if held:
        raise KitaruStateError(
            f"Version {item.version} of flow '{flow}' holds exclusive tags ({_join(held)}) and "
            "cannot be deleted.",
            hint="Move or remove those tags first (default can only be moved).",
            details={"flow": flow, "version": item.version, "exclusive_tags": held},
        )


def runs_remotely(orchestrator_flavors: Sequence[str]) -> bool:
    """Whether the server can run a stack's saved snapshots: its orchestrator is one of the
    remote types. Local and ``local_docker`` orchestrators run on the deploying machine."""
    return bool(orchestrator_flavors) and all(
        flavor in REMOTE_STACK_TYPES for flavor in orchestrator_flavors
    )


def remote_guard_message(stack: str) -> KitaruStateError:
    return KitaruStateError(
        f"Stack '{stack}' runs flows locally, and deployments need a stack the server can run "
        f"remotely ({_join(list(REMOTE_STACK_TYPES))}).",
        hint=Hint(
            sdk="Deploy with a remote stack (stack=...), or pass allow_local=True for a local "
            "development deployment.",
            cli="Deploy with a remote stack (--stack), or pass --allow-local for a local "
            "development deployment.",
            mcp="Deploy with a remote stack (stack), or pass allow_local=true for a local "
            "development deployment.",
        ),
        details={"stack": stack, "remote_types": list(REMOTE_STACK_TYPES)},
    )


def _join(items: Sequence[object]) -> str:
    return ", ".join(str(item) for item in items) or "none"
