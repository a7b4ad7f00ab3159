"""Image settings: accepted shapes and the package-injection rule.

A requirement that installs Kitaru is appended to ``requirements`` unless it is already listed
(with or without a pin) or the user controls the image (``base_image`` / ``dockerfile``). It is
``$KITARU_IMAGE_REQUIREMENT`` when set, else derived from how this Kitaru was installed; a source
checkout has no installable address, so the rule refuses instead of appending a dead name.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from kitaru_core.config.env import read_env
from kitaru_core.config.image import (
    KITARU_DISTRIBUTION,
    REQUIREMENT_VAR,
    ImageSettings,
    KitaruInstall,
    coerce_image,
    installable_requirement,
    installed_kitaru,
)
from kitaru_core.errors import KitaruUsageError

# How Kitaru may have been installed (PEP 610 direct_url.json), and what a container installs.
FROM_INDEX = KitaruInstall(version="0.1.0", direct_url=None)
EDITABLE = KitaruInstall("0.1.0", {"url": "file:///home/dev/kit", "dir_info": {"editable": True}})
GIT = "https://github.com/acme/kitaru.git"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
WHEEL = "https://files.example.com/kitaru_mcp-0.1.0-py3-none-any.whl"


def inject(image: ImageSettings, install: KitaruInstall = FROM_INDEX, **env: str) -> list[str]:
    return image.with_kitaru_requirement(install, environ=env).requirements


def test_distribution_name_is_this_package() -> None:
    assert KITARU_DISTRIBUTION == "kitaru-mcp"


def test_appended_after_the_users_requirements() -> None:
    assert inject(ImageSettings(requirements=["httpx", "pydantic"])) == [
        "httpx",
        "pydantic",
        "kitaru-mcp==0.1.0",
    ]


def test_appended_to_empty_requirements() -> None:
    assert inject(ImageSettings()) == ["kitaru-mcp==0.1.0"]


def test_injection_does_not_change_the_original() -> None:
    original = ImageSettings(requirements=["httpx"])
    inject(original)
    assert original.requirements == ["httpx"]


@pytest.mark.parametrize(
    ("direct_url", "expected"),
    [
        (None, "kitaru-mcp==0.1.0"),
        (
            {"url": GIT, "vcs_info": {"vcs": "git", "commit_id": COMMIT}},
            f"kitaru-mcp @ git+{GIT}@{COMMIT}",
        ),
        (
            {"url": GIT, "vcs_info": {"vcs": "git", "commit_id": COMMIT}, "subdirectory": "py"},
            f"kitaru-mcp @ git+{GIT}@{COMMIT}#subdirectory=py",
        ),
        ({"url": WHEEL, "archive_info": {"hashes": {}}}, f"kitaru-mcp @ {WHEEL}"),
        ({"url": "file:///home/dev/kit", "dir_info": {"editable": True}}, None),
        ({"url": "file:///home/dev/kit", "dir_info": {}}, None),
        ({"url": "file:///tmp/kitaru_mcp-0.1.0-py3-none-any.whl", "archive_info": {}}, None),
        ({"url": "file:///src/kitaru", "vcs_info": {"vcs": "git", "commit_id": COMMIT}}, None),
    ],
)
def test_requirement_follows_how_kitaru_was_installed(
    direct_url: dict[str, Any] | None, expected: str | None
) -> None:
    assert installable_requirement(KitaruInstall("0.1.0", direct_url)) == expected


def test_a_source_checkout_is_refused_with_what_to_do() -> None:
    with pytest.raises(KitaruUsageError) as info:
        inject(ImageSettings(requirements=["httpx"]), EDITABLE)
    error = info.value
    assert "editable install of /home/dev/kit" in error.message
    assert REQUIREMENT_VAR in error.hint and "base_image" in error.hint
    assert error.code == "usage_error"


def test_this_checkout_is_such_a_source_checkout() -> None:
    # The test venv installs Kitaru with `pip install -e .`: no container could install that.
    install = installed_kitaru()
    assert install.direct_url is not None and install.direct_url["dir_info"]["editable"]
    assert installable_requirement(install) is None
    with pytest.raises(KitaruUsageError, match="cannot install this Kitaru"):
        ImageSettings().with_kitaru_requirement(environ={})


def test_the_variable_wins_and_unblocks_a_checkout() -> None:
    requirement = f"kitaru-mcp @ git+{GIT}@v0.1.0"
    env = {REQUIREMENT_VAR: f"  {requirement} "}
    assert inject(ImageSettings(requirements=["httpx"]), EDITABLE, **env) == ["httpx", requirement]
    assert inject(ImageSettings(), FROM_INDEX, **env) == [requirement]
    assert inject(ImageSettings(), FROM_INDEX, **{REQUIREMENT_VAR: "  "}) == ["kitaru-mcp==0.1.0"]


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
    # Listing Kitaru yourself is also how a source checkout runs remotely.
    assert inject(ImageSettings(requirements=["httpx", listed]), EDITABLE) == ["httpx", listed]


@pytest.mark.parametrize("other", ["kitaru-mcp-extras", "kitaru", "my-kitaru-mcp", "kitarumcp"])
def test_similar_names_are_other_packages(other: str) -> None:
    assert inject(ImageSettings(requirements=[other])) == [other, "kitaru-mcp==0.1.0"]


@pytest.mark.parametrize(
    "image",
    [
        ImageSettings(base_image="python:3.12-slim", requirements=["httpx"]),
        ImageSettings(dockerfile="Dockerfile", requirements=["httpx"]),
    ],
)
def test_none_when_the_user_controls_the_image(image: ImageSettings) -> None:
    assert inject(image, EDITABLE) == ["httpx"]  # not refused either: the image is theirs


def test_replicating_the_local_environment_still_injects() -> None:
    image = ImageSettings(replicate_local_python_environment=True)
    assert inject(image) == ["kitaru-mcp==0.1.0"]
    with pytest.raises(KitaruUsageError):  # a frozen editable install is no address either
        inject(image, EDITABLE)


def test_refusal_names_no_secret() -> None:
    image = ImageSettings(environment={"OPENAI_API_KEY": "sk-live-abcdef123456"})
    with pytest.raises(KitaruUsageError) as info:
        inject(image, EDITABLE)
    assert "sk-live" not in json.dumps(info.value.to_dict())


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
