"""Render any value as bounded JSON for people and assistants."""

from __future__ import annotations

import json
from typing import Any

PREVIEW_LIMIT = 16_000


def render_preview(value: Any, limit: int = PREVIEW_LIMIT) -> tuple[Any, bool]:
    """A JSON-able rendering of ``value`` and whether it was cut to ``limit`` characters.

    Pydantic models, dataclasses and the like become their JSON form; anything else its repr.
    A rendering longer than ``limit`` characters of JSON is returned as its first ``limit``
    characters (a string) with ``truncated`` true.
    """
    from pydantic_core import to_jsonable_python

    try:
        jsonable = to_jsonable_python(value, fallback=repr)
    except Exception:
        jsonable = repr(value)
    text = json.dumps(jsonable, default=repr)
    if len(text) <= limit:
        return jsonable, False
    return text[:limit], True
