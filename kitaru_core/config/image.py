"""Container image settings for remote execution, with Kitaru's package-injection rule."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kitaru_core.errors import KitaruUsageError

# The distribution remote containers need; it brings the SDK and the worker entry point.
KITARU_DISTRIBUTION = "kitaru-mcp"
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

    def with_kitaru_requirement(self) -> ImageSettings:
        """Append Kitaru's distribution to ``requirements`` unless the user controls the image.

        Not added when already listed (with or without a version pin) or when a ``base_image``
        or ``dockerfile`` is given: then the image's contents are the user's responsibility.
        """
        if self.base_image or self.dockerfile:
            return self
        if any(_is_kitaru(req) for req in self.requirements):
            return self
        return self.model_copy(update={"requirements": [*self.requirements, KITARU_DISTRIBUTION]})


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
