"""Container image settings for remote execution, with Kitaru's package-injection rule.

A remote container must install the same Kitaru that launches the flow. Which requirement
does that depends on how this Kitaru was installed (PEP 610 ``direct_url.json``): from a
package index → ``kitaru-mcp==VERSION``; from a VCS URL or a downloadable archive → that URL.
A source checkout or a local file has no address a container can reach, so no requirement is
invented for it: :meth:`ImageSettings.with_kitaru_requirement` refuses with what to do instead
(``KITARU_IMAGE_REQUIREMENT``, an explicit requirement, or a ``base_image`` with Kitaru).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kitaru_core.errors import KitaruUsageError

# The distribution remote containers need; it brings the SDK and the worker entry point.
KITARU_DISTRIBUTION = "kitaru-mcp"
# A pip requirement line that installs Kitaru in remote containers (wins over the derived one).
REQUIREMENT_VAR = "KITARU_IMAGE_REQUIREMENT"
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
# URL requirements (``git+https://…#egg=name``) name their project in the fragment.
_EGG_NAME = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)")


class ImageSettings(BaseModel):
    """How the container image for a remote execution is built."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_image: str | None = None
    requirements: list[str] = Field(default_factory=list)
    apt_packages: list[str] = Field(default_factory=list)
    environment: dict[str, str] = Field(default_factory=dict)
    dockerfile: str | None = None
    replicate_local_python_environment: bool = False

    def with_kitaru_requirement(
        self, install: KitaruInstall | None = None, environ: Mapping[str, str] | None = None
    ) -> ImageSettings:
        """Append a requirement that installs Kitaru, unless the user controls the image.

        Not added when Kitaru is already listed (with or without a pin, or as a URL) or when a
        ``base_image`` or ``dockerfile`` is given: then the image's contents are the user's
        responsibility. Otherwise ``$KITARU_IMAGE_REQUIREMENT``, else the requirement derived
        from ``install`` (default: this process's Kitaru). Raises :class:`KitaruUsageError`
        when neither gives an installable requirement. Pure when both arguments are given.
        """
        if self.base_image or self.dockerfile:
            return self
        if any(_is_kitaru(req) for req in self.requirements):
            return self
        env = os.environ if environ is None else environ
        install = install if install is not None else installed_kitaru()
        requirement = env.get(REQUIREMENT_VAR, "").strip() or installable_requirement(install)
        if requirement is None:
            raise _not_installable(install)
        return self.model_copy(update={"requirements": [*self.requirements, requirement]})


@dataclass(frozen=True)
class KitaruInstall:
    """How the running Kitaru was installed: its version and PEP 610 ``direct_url.json``
    (``None``: installed from a package index)."""

    version: str | None
    direct_url: dict[str, Any] | None = None


def installed_kitaru() -> KitaruInstall:
    """This process's Kitaru, as its distribution metadata describes it."""
    from importlib import metadata

    try:
        dist = metadata.distribution(KITARU_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        # Imported from a source tree that was never installed.
        return KitaruInstall(version=None, direct_url={"url": "", "dir_info": {}})
    text = dist.read_text("direct_url.json")
    try:
        direct_url = json.loads(text) if text else None
    except json.JSONDecodeError:
        direct_url = {"url": "", "dir_info": {}}  # unreadable: do not guess an address
    return KitaruInstall(version=dist.version, direct_url=direct_url)


def installable_requirement(install: KitaruInstall) -> str | None:
    """A pip requirement that installs this Kitaru anywhere, or ``None`` when there is none."""
    origin = install.direct_url
    if origin is None:
        return f"{KITARU_DISTRIBUTION}=={install.version}" if install.version else None
    url = str(origin.get("url", ""))
    if not url.lower().startswith(("https://", "http://", "ssh://")):
        return None  # a local directory, an editable checkout or a local file
    fragment = f"#subdirectory={origin['subdirectory']}" if origin.get("subdirectory") else ""
    vcs = origin.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs") and vcs.get("commit_id"):
        return f"{KITARU_DISTRIBUTION} @ {vcs['vcs']}+{url}@{vcs['commit_id']}{fragment}"
    if "archive_info" in origin:
        return f"{KITARU_DISTRIBUTION} @ {url}{fragment}"
    return None


def _not_installable(install: KitaruInstall) -> KitaruUsageError:
    origin = install.direct_url or {}
    url = str(origin.get("url", ""))
    place = url.removeprefix("file://") or "a source tree"
    editable = bool((origin.get("dir_info") or {}).get("editable"))
    how = f"an editable install of {place}" if editable else f"installed from {place}"
    return KitaruUsageError(
        f"A remote container cannot install this Kitaru ({how}): no package index or URL "
        "serves it, so the image would start without Kitaru.",
        hint=f"Set {REQUIREMENT_VAR} to a pip requirement that installs Kitaru (a wheel URL, "
        f"or '{KITARU_DISTRIBUTION} @ git+https://…'), add such a requirement to the image's "
        "requirements, or use a base_image that has Kitaru installed.",
        details={"install": how, "variable": REQUIREMENT_VAR},
    )


def _requirement_name(requirement: str) -> str:
    """The project name of a pip requirement line (``kitaru-mcp[aws]>=0.1`` → ``kitaru-mcp``)."""
    egg = _EGG_NAME.search(requirement)
    if egg:
        return egg.group(1)
    match = _REQUIREMENT_NAME.match(requirement)
    return match.group(1) if match else requirement


def _is_kitaru(requirement: str) -> bool:
    # PEP 503 normalisation: kitaru_mcp, Kitaru.MCP and kitaru-mcp are the same project.
    return _normalise(_requirement_name(requirement)) == KITARU_DISTRIBUTION


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


ImageInput = ImageSettings | dict[str, Any] | str

_IMAGE_HINT = (
    'Give a JSON object such as {"base_image": "python:3.12-slim"} or a plain image name. '
    "Allowed keys: base_image, requirements, apt_packages, environment, dockerfile, "
    "replicate_local_python_environment."
)


def coerce_image(value: ImageInput | None, *, source: str) -> ImageSettings | None:
    """Accept an ``ImageSettings``, a mapping, a JSON object string or a plain image name.

    ``source`` names where the value came from (``KITARU_IMAGE``, ``[tool.kitaru] …``) so that
    errors point at it.
    """
    if value is None or isinstance(value, ImageSettings):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if not text.startswith(("{", "[", '"')):
            return _plain_image(text, source=source)
        value = _parse_json_object(text, source=source)
    if not isinstance(value, dict):
        raise KitaruUsageError(
            f"{source} must be an ImageSettings, a mapping or an image name, "
            f"not {type(value).__name__}.",
            hint=_IMAGE_HINT,
            details={"source": source},
        )
    try:
        return ImageSettings.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'image'}: {err['msg']}" for err in exc.errors()
        )
        raise KitaruUsageError(
            f"{source} has invalid image settings ({problems}).",
            hint=_IMAGE_HINT,
            details={"source": source},
        ) from exc


def _plain_image(text: str, *, source: str) -> ImageSettings:
    # An image reference never contains whitespace; such a value is almost surely a typo.
    if any(char.isspace() for char in text):
        raise KitaruUsageError(
            f"{source} is neither a JSON object nor an image name: {text!r}.",
            hint=_IMAGE_HINT,
            details={"source": source, "value": text},
        )
    return ImageSettings(base_image=text)


def _parse_json_object(text: str, *, source: str) -> Any:
    # The text is not echoed back: an image's ``environment`` may carry secrets.
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KitaruUsageError(
            f"{source} is not valid JSON: {exc.msg} (at character {exc.pos}).",
            hint=_IMAGE_HINT,
            details={"source": source},
        ) from exc
    if not isinstance(parsed, dict):
        raise KitaruUsageError(
            f"{source} must be a JSON object, got a JSON {type(parsed).__name__}.",
            hint=_IMAGE_HINT,
            details={"source": source},
        )
    return parsed
