"""Pure rules for LLM requests, model aliases and secrets (SPEC §1.2, §7).

No I/O, no ZenML, no LiteLLM: the CLI, the MCP tools and ``llm()`` call these with their own
field labels. Messages never quote a secret value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from kitaru_core.errors import KitaruUsageError, KitaruValidationError

# An alias never contains "/", so it can never be mistaken for a ``provider/model`` string.
_ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SECRET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# Secret keys become keyword arguments or environment variables of one LiteLLM call, so they
# must be identifiers.
_SECRET_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_CALL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
MAX_MODEL_LENGTH = 256
ROLES = ("system", "user", "assistant", "tool", "function", "developer")

REGISTER_HINT = (
    "Register one with `kitaru model register ALIAS --model provider/model [--secret NAME]`, "
    "set KITARU_DEFAULT_MODEL, or pass llm(..., model='provider/model')."
)


def check_alias(alias: Any, *, field: str = "alias") -> str:
    """A model alias: letters, digits, '_', '.', '-' (no '/'), at most 64 characters."""
    text = alias.strip() if isinstance(alias, str) else None
    if not text or not _ALIAS.match(text):
        raise KitaruValidationError(
            f"{field} {alias!r} is not a valid model alias: use letters, digits, '_', '.' and "
            f"'-' (starting with a letter or digit, at most 64 characters, no '/').",
            fields={field: "letters, digits, '_', '.', '-'; at most 64 characters; no '/'"},
            hint="Pick a short name such as `fast` or `smart`.",
        )
    return text


def check_model_string(model: Any, *, field: str = "model") -> str:
    """A LiteLLM model string such as ``openai/gpt-4o-mini`` (no spaces)."""
    text = model.strip() if isinstance(model, str) else None
    if (
        not text
        or len(text) > MAX_MODEL_LENGTH
        or any(char.isspace() for char in text)
        or text.startswith("/")
        or text.endswith("/")
    ):
        raise KitaruValidationError(
            f"{field} {model!r} is not a LiteLLM model string; expected e.g. "
            f"'openai/gpt-4o-mini' or 'anthropic/claude-3-5-haiku-latest'.",
            fields={field: "a LiteLLM model string like provider/model, without spaces"},
            hint="See https://docs.litellm.ai/docs/providers for the provider/model names.",
        )
    return text


def check_secret_name(name: Any, *, field: str = "secret") -> str:
    """A secret name: letters, digits, '_', '.', '-', at most 128 characters."""
    text = name.strip() if isinstance(name, str) else None
    if not text or not _SECRET_NAME.match(text):
        raise KitaruValidationError(
            f"{field} {name!r} is not a valid secret name: use letters, digits, '_', '.' and "
            f"'-' (starting with a letter or digit, at most 128 characters).",
            fields={field: "letters, digits, '_', '.', '-'; at most 128 characters"},
        )
    return text


def check_secret_values(values: Any, *, field: str = "values") -> dict[str, str]:
    """The key/value pairs of a secret. Problems name the key, never the value."""
    if not isinstance(values, Mapping) or not values:
        raise KitaruValidationError(
            f"{field} must hold at least one KEY=VALUE pair.",
            fields={field: "at least one KEY=VALUE pair"},
            hint="E.g. `kitaru secrets create openai --OPENAI_API_KEY=sk-...`.",
        )
    problems: dict[str, str] = {}
    clean: dict[str, str] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not _SECRET_KEY.match(key):
            problems[f"{field}.{key}"] = (
                "keys are identifiers: letters, digits and '_', not starting with a digit"
            )
        elif not isinstance(value, str) or not value:
            problems[f"{field}.{key}"] = "the value must be a non-empty string"
        else:
            clean[key] = value
    lowered: dict[str, str] = {}
    for key in clean:
        other = lowered.setdefault(key.lower(), key)
        if other != key:
            problems[f"{field}.{key}"] = f"differs from key '{other}' only in case"
    if problems:
        raise KitaruValidationError(
            "Invalid secret: "
            + "; ".join(f"{name.split('.', 1)[-1]}: {text}" for name, text in problems.items())
            + ".",
            fields=problems,
            hint="Use keys like OPENAI_API_KEY or api_key, each with a non-empty value.",
        )
    return clean


def parse_secret_assignments(items: Sequence[str], *, field: str = "values") -> dict[str, str]:
    """``["--KEY=VALUE", "KEY2=VALUE2"]`` → ``{"KEY": "VALUE", ...}`` (for the CLI).

    A malformed item is reported by its position and key only: it may hold a secret.
    """
    values: dict[str, str] = {}
    problems: dict[str, str] = {}
    for position, item in enumerate(items, start=1):
        text = item[2:] if item.startswith("--") else item
        key, sep, value = text.partition("=")
        label = f"{field}[{position}]"
        if not sep or not key:
            problems[label] = "expected --KEY=VALUE"
        elif key in values:
            problems[label] = f"key '{key}' is given twice"
        else:
            values[key] = value
    if problems:
        raise KitaruValidationError(
            "Invalid secret values: "
            + "; ".join(f"{name}: {text}" for name, text in problems.items())
            + ".",
            fields=problems,
            hint="Pass each value as --KEY=VALUE, e.g. --OPENAI_API_KEY=sk-....",
        )
    return check_secret_values(values, field=field)


def check_call_name(name: Any, *, field: str = "name") -> str | None:
    """The pinned call id of an ``llm()`` call (``None`` lets Kitaru number the calls)."""
    if name is None:
        return None
    if not isinstance(name, str) or not _CALL_NAME.match(name):
        raise KitaruUsageError(
            f"llm({field}=...) must be a call id of letters, digits, '_', '.' and '-' "
            f"(at most 100 characters), got {name!r}.",
            hint="E.g. llm(prompt, name='summary').",
            details={"field": field},
        )
    return name


def check_temperature(value: Any, *, field: str = "temperature") -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 2:
        raise KitaruUsageError(
            f"llm({field}=...) must be a number from 0 to 2, got {value!r}.",
            details={"field": field},
        )
    return float(value)


def check_max_tokens(value: Any, *, field: str = "max_tokens") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise KitaruUsageError(
            f"llm({field}=...) must be a whole number of tokens (1 or more), got {value!r}.",
            details={"field": field},
        )
    return value


def check_prompt(prompt: Any, *, field: str = "prompt_or_messages") -> str | list[dict[str, Any]]:
    """A prompt string or a list of chat messages (``{"role": ..., "content": ...}``)."""
    if isinstance(prompt, str):
        if not prompt.strip():
            raise KitaruUsageError(f"llm({field}=...) is empty; pass the prompt text.")
        return prompt
    if not isinstance(prompt, (list, tuple)) or not prompt:
        raise KitaruUsageError(
            f"llm() takes a prompt string or a non-empty list of messages, got "
            f"{type(prompt).__name__}.",
            hint="E.g. llm('Summarise ...') or llm([{'role': 'user', 'content': '...'}]).",
            details={"field": field},
        )
    messages: list[dict[str, Any]] = []
    for position, message in enumerate(prompt):
        if not isinstance(message, Mapping):
            raise KitaruUsageError(
                f"llm(): message {position} is a {type(message).__name__}, not a dict with "
                f"'role' and 'content'.",
                details={"field": f"{field}[{position}]"},
            )
        role = message.get("role")
        if role not in ROLES:
            raise KitaruUsageError(
                f"llm(): message {position} has role {role!r}; use one of: {', '.join(ROLES)}.",
                details={"field": f"{field}[{position}].role"},
            )
        if "content" not in message and "tool_calls" not in message:
            raise KitaruUsageError(
                f"llm(): message {position} has no 'content'.",
                details={"field": f"{field}[{position}].content"},
            )
        messages.append(dict(message))
    return messages


def build_messages(prompt: str | list[dict[str, Any]], system: str | None) -> list[dict[str, Any]]:
    """The chat messages sent to the model: ``system`` first, then the prompt or messages."""
    if system is not None and not isinstance(system, str):
        raise KitaruUsageError(f"llm(system=...) must be a string, got {type(system).__name__}.")
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": system})
    if isinstance(prompt, str):
        messages.append({"role": "user", "content": prompt})
    else:
        messages.extend(dict(message) for message in prompt)
    return messages
