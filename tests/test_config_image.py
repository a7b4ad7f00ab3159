"""Image settings: accepted shapes and the package-injection rule.

Kitaru's distribution (``kitaru-mcp``) is appended to ``requirements`` unless it is already
listed (with or without a pin) or the user controls the image (``base_image`` / ``dockerfile``).
"""

from __future__ import annotations

import pytest

from kitaru_core.config.env import read_env
from kitaru_core.config.image import KITARU_DISTRIBUTION, ImageSettings, coerce_image
from kitaru_core.errors import KitaruUsageError


def test_distribution_name_is_this_package() -> None:
    assert KITARU_DISTRIBUTION == "kitaru-mcp"


def test_appended_after_the_users_requirements() -> None:
    image = ImageSettings(requirements=["httpx", "pydantic"]).with_kitaru_requirement()
    assert image.requirements == ["httpx", "pydantic", "kitaru-mcp"]


def test_appended_to_empty_requirements() -> None:
    assert ImageSettings().with_kitaru_requirement().requirements == ["kitaru-mcp"]


def test_injection_does_not_change_the_original() -> None:
    original = ImageSettings(requirements=["httpx"])
    original.with_kitaru_requirement()
    assert original.requirements == ["httpx"]


@pytest.mark.parametrize(
    "listed",
    [
        "kitaru-mcp",
        "kitaru-mcp>=0.1",
        "kitaru-mcp==0.1.0",
        "kitaru_mcp",
        "Kitaru.MCP~=0.1",
        "kitaru-mcp[aws]>=0.1",
        "  kitaru-mcp ; python_version >= '3.11'",
        "kitaru-mcp @ https://example.com/kitaru_mcp-0.1.0-py3-none-any.whl",
        "git+https://github.com/acme/kitaru.git#egg=kitaru_mcp",
    ],
)
def test_not_duplicated_when_already_listed(listed: str) -> None:
    image = ImageSettings(requirements=["httpx", listed]).with_kitaru_requirement()
    assert image.requirements == ["httpx", listed]


@pytest.mark.parametrize("other", ["kitaru-mcp-extras", "kitaru", "my-kitaru-mcp", "kitarumcp"])
def test_similar_names_are_other_packages(other: str) -> None:
    assert ImageSettings(requirements=[other]).with_kitaru_requirement().requirements == [
        other,
        "kitaru-mcp",
    ]


@pytest.mark.parametrize(
    "image",
    [
        ImageSettings(base_image="python:3.12-slim", requirements=["httpx"]),
        ImageSettings(dockerfile="Dockerfile", requirements=["httpx"]),
    ],
)
def test_none_when_the_user_controls_the_image(image: ImageSettings) -> None:
    assert image.with_kitaru_requirement().requirements == ["httpx"]


def test_replicating_the_local_environment_still_injects() -> None:
    image = ImageSettings(replicate_local_python_environment=True).with_kitaru_requirement()
    assert image.requirements == ["kitaru-mcp"]


# --- accepted shapes -------------------------------------------------------------------------


def test_mapping_and_settings_are_accepted() -> None:
    settings = ImageSettings(apt_packages=["git", "ffmpeg"], requirements=["httpx"])
    assert coerce_image(settings, source="x") is settings
    assert (
        coerce_image({"apt_packages": ["git", "ffmpeg"], "requirements": ["httpx"]}, source="x")
        == settings
    )
    assert coerce_image({"replicate_local_python_environment": True}, source="x") == ImageSettings(
        replicate_local_python_environment=True
    )
    assert coerce_image(None, source="x") is None
    assert coerce_image("  ", source="x") is None


def test_env_json_object_vs_plain_string() -> None:
    as_json = read_env(
        {"KITARU_IMAGE": '{"base_image": "python:3.12-slim", "apt_packages": ["git"]}'}
    )
    assert as_json.image == ImageSettings(base_image="python:3.12-slim", apt_packages=["git"])
    plain = read_env({"KITARU_IMAGE": " python:3.12-slim "})
    assert plain.image == ImageSettings(base_image="python:3.12-slim")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"base_image": "python:3.12"', "not valid JSON"),
        ("{base_image: python}", "not valid JSON"),
        ('["python:3.12"]', "must be a JSON object"),
        ('"python:3.12"', "must be a JSON object"),
        ('{"colour": "blue"}', "colour"),
        ('{"requirements": "httpx"}', "requirements"),
        ("python 3.12", "neither a JSON object nor an image name"),
    ],
)
def test_bad_env_image_names_the_variable(raw: str, expected: str) -> None:
    with pytest.raises(KitaruUsageError) as info:
        read_env({"KITARU_IMAGE": raw})
    assert info.value.message.startswith("KITARU_IMAGE ")
    assert expected in info.value.message
    assert "base_image" in info.value.hint


def test_broken_json_does_not_echo_secrets() -> None:
    raw = '{"environment": {"OPENAI_API_KEY": "sk-live-abcdef123456"}'
    with pytest.raises(KitaruUsageError) as info:
        read_env({"KITARU_IMAGE": raw})
    assert "sk-live-abcdef123456" not in str(info.value.to_dict())


@pytest.mark.parametrize("value", [3, ["python:3.12"], True])
def test_other_types_are_refused(value: object) -> None:
    with pytest.raises(KitaruUsageError, match="image: must be"):
        coerce_image(value, source="image:")  # type: ignore[arg-type]


def test_settings_are_immutable_and_strict() -> None:
    image = ImageSettings(base_image="x")
    with pytest.raises(Exception, match="frozen"):
        image.base_image = "y"
    with pytest.raises(Exception, match="colour"):
        ImageSettings(colour="blue")  # type: ignore[call-arg]
