"""Configuration files: ``kitaru.yaml`` in the config dir, ``[tool.kitaru]`` in the nearest
``pyproject.toml``, and the ``kitaru init`` root marker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from kitaru_core.config import paths
from kitaru_core.config.image import ImageSettings
from kitaru_core.config.project import (
    ROOT_MARKER,
    ProjectConfig,
    find_project_root,
    init_project_root,
    load_project_config,
)
from kitaru_core.config.settings import (
    KitaruSettings,
    LogStoreSettings,
    ModelAlias,
    load_settings,
    save_settings,
    update_settings,
)
from kitaru_core.errors import KitaruUsageError


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, not yet existing Kitaru config dir for one test."""
    folder = tmp_path / "kitaru-config"
    monkeypatch.setenv("KITARU_CONFIG_PATH", str(folder))
    return folder


# --- kitaru.yaml -----------------------------------------------------------------------------


def test_missing_settings_file_is_empty_settings_and_creates_nothing(config_dir: Path) -> None:
    assert load_settings() == KitaruSettings()
    assert not config_dir.exists()


def test_settings_round_trip_through_the_config_dir(config_dir: Path) -> None:
    settings = KitaruSettings(
        models={"fast": ModelAlias(model="openai/gpt-4o-mini", secret="openai-creds")},
        default_model="fast",
        log_store=LogStoreSettings(backend="datadog", endpoint="https://dd.example", api_key="k"),
    )
    written = save_settings(settings)
    assert written == config_dir.resolve() / "kitaru.yaml"
    assert load_settings() == settings
    on_disk = yaml.safe_load(written.read_text(encoding="utf-8"))
    assert on_disk["models"]["fast"] == {"model": "openai/gpt-4o-mini", "secret": "openai-creds"}
    # Atomic write: no temporary file is left next to it.
    assert sorted(p.name for p in written.parent.iterdir()) == ["kitaru.yaml"]


def test_saved_settings_are_private_to_the_owner(config_dir: Path) -> None:
    written = save_settings(KitaruSettings(default_model="fast"))
    assert written.stat().st_mode & 0o077 == 0


def test_update_settings_changes_one_value(config_dir: Path) -> None:
    save_settings(KitaruSettings(models={"fast": ModelAlias(model="a/b")}))
    update_settings(lambda s: s.model_copy(update={"default_model": "fast"}))
    assert load_settings() == KitaruSettings(
        models={"fast": ModelAlias(model="a/b")}, default_model="fast"
    )


MALFORMED = {
    "bad-yaml": "models: [unclosed\n",
    "tab-indent": "models:\n\tfast: x\n",
    "not-a-mapping": "- just\n- a list\n",
    "unknown-key": "colour: blue\n",
    "wrong-type": "models:\n  fast: 3\n",
}


@pytest.mark.parametrize("content", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_settings_name_the_file_and_are_never_overwritten(
    config_dir: Path, content: str
) -> None:
    config_dir.mkdir()
    path = config_dir / "kitaru.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(KitaruUsageError) as info:
        load_settings()
    assert str(path.resolve()) in info.value.message
    assert info.value.details == {"file": str(path.resolve())}
    assert str(path.resolve()) in info.value.hint
    with pytest.raises(KitaruUsageError):
        update_settings(lambda s: s.model_copy(update={"default_model": "x"}))
    assert path.read_text(encoding="utf-8") == content


def test_yaml_error_does_not_quote_the_broken_line(config_dir: Path) -> None:
    # PyYAML quotes the offending line; that line may hold an API key.
    config_dir.mkdir()
    (config_dir / "kitaru.yaml").write_text(
        "log_store:\n  api_key: dd-secret-value: [\n", encoding="utf-8"
    )
    with pytest.raises(KitaruUsageError) as info:
        load_settings()
    assert "dd-secret-value" not in str(info.value.to_dict())
    assert "line 2" in info.value.message


# --- [tool.kitaru] in pyproject.toml -----------------------------------------------------------

SEED_PYPROJECT = """
[project]
name = "agent"

[tool.kitaru]
stack = "prod"
cache = false
retries = 2

[tool.kitaru.image]
base_image = "python:3.12-slim"

[tool.kitaru.image.environment]
OPENAI_API_KEY = "{{ OPENAI_KEY }}"
"""


def test_no_pyproject_is_an_empty_project_config(project_dir: Path) -> None:
    assert load_project_config() == ProjectConfig()


def test_pyproject_without_a_kitaru_table(project_dir: Path) -> None:
    (project_dir / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    config = load_project_config()
    assert config.path == project_dir / "pyproject.toml"
    assert config.values == {}


def test_seed_example_is_read_from_a_nested_directory(project_dir: Path) -> None:
    (project_dir / "pyproject.toml").write_text(SEED_PYPROJECT, encoding="utf-8")
    nested = project_dir / "src" / "agent" / "flows"
    nested.mkdir(parents=True)
    os.chdir(nested)  # project_dir's monkeypatch.chdir restores the working directory
    config = load_project_config()
    assert config.path == project_dir / "pyproject.toml"
    assert (config.stack, config.cache, config.retries) == ("prod", False, 2)
    assert config.image == ImageSettings(
        base_image="python:3.12-slim", environment={"OPENAI_API_KEY": "{{ OPENAI_KEY }}"}
    )


def test_the_nearest_pyproject_wins(project_dir: Path) -> None:
    (project_dir / "pyproject.toml").write_text(
        '[tool.kitaru]\nstack = "outer"\n', encoding="utf-8"
    )
    inner = project_dir / "inner"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[tool.kitaru]\nstack = "inner"\n', encoding="utf-8")
    assert load_project_config(inner).stack == "inner"
    assert load_project_config(project_dir).stack == "outer"


def test_image_may_be_a_plain_string(project_dir: Path) -> None:
    (project_dir / "pyproject.toml").write_text(
        '[tool.kitaru]\nimage = "ghcr.io/acme/agent:1"\n', encoding="utf-8"
    )
    assert load_project_config().image == ImageSettings(base_image="ghcr.io/acme/agent:1")


def _project_error(project_dir: Path, content: str) -> KitaruUsageError:
    path = project_dir / "pyproject.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(KitaruUsageError) as info:
        load_project_config()
    assert str(path) in info.value.message
    assert info.value.code == "usage_error"
    return info.value


def test_bad_toml_names_the_file(project_dir: Path) -> None:
    error = _project_error(project_dir, "[tool.kitaru\nstack = 'x'\n")
    assert "TOML" in error.message
    assert error.details == {"file": str(project_dir / "pyproject.toml")}


def test_unknown_keys_are_named(project_dir: Path) -> None:
    error = _project_error(project_dir, '[tool.kitaru]\nstack = "a"\nstak = "b"\nretry = 1\n')
    assert "retry" in error.message and "stak" in error.message
    assert error.details["unknown"] == ["retry", "stak"]
    assert "stack" in error.hint


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('cache = "false"', "cache"),
        ("cache = 1", "cache"),
        ('retries = "2"', "retries"),
        ("retries = -1", "retries"),
        ("retries = 1.5", "retries"),
        ("retries = true", "retries"),
        ("stack = 3", "stack"),
        ('stack = "  "', "stack"),
        ("image = 3", "image"),
        ('image = { base_image = "x", colour = "blue" }', "image"),
    ],
)
def test_bad_types_name_the_key(project_dir: Path, line: str, key: str) -> None:
    error = _project_error(project_dir, f"[tool.kitaru]\n{line}\n")
    assert f": {key}" in error.message


def test_kitaru_must_be_a_table(project_dir: Path) -> None:
    error = _project_error(project_dir, '[tool]\nkitaru = "yes"\n')
    assert "must be a table" in error.message


# --- kitaru init root marker -----------------------------------------------------------------


def test_init_marks_the_current_directory_and_is_idempotent(project_dir: Path) -> None:
    assert find_project_root() is None
    assert init_project_root() == project_dir.resolve()
    assert (project_dir / ROOT_MARKER).is_dir()
    assert init_project_root() == project_dir.resolve()


def test_root_is_found_from_a_nested_directory(project_dir: Path) -> None:
    init_project_root(project_dir)
    nested = project_dir / "a" / "b"
    nested.mkdir(parents=True)
    assert find_project_root(nested) == project_dir.resolve()


def test_a_config_dir_called_dot_kitaru_is_not_a_root_marker(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # KITARU_CONFIG_PATH=/app/.kitaru must not turn /app into a project by accident ...
    monkeypatch.setenv("KITARU_CONFIG_PATH", str(project_dir / ROOT_MARKER))
    paths.ensure_config_dir()
    nested = project_dir / "src"
    nested.mkdir()
    assert find_project_root(nested) is None
    # ... but `kitaru init` there still works, and then it is one.
    assert init_project_root(project_dir) == project_dir.resolve()
    assert find_project_root(nested) == project_dir.resolve()


def test_init_refuses_when_the_marker_name_is_a_file(project_dir: Path) -> None:
    (project_dir / ROOT_MARKER).write_text("not a folder", encoding="utf-8")
    with pytest.raises(KitaruUsageError) as info:
        init_project_root()
    assert ROOT_MARKER in info.value.message
    assert (project_dir / ROOT_MARKER).read_text(encoding="utf-8") == "not a folder"
