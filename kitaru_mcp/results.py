"""Result shapes shared by every tool: pages with opaque cursors, and size bounds.

Every list tool returns ``{"items": [...], "count": N, "next_cursor": str | null}`` (plus
``total`` when known and ``truncated``/``hint`` when the page was cut to fit). No result may
exceed ~20,000 tokens (about 80,000 characters of JSON): pages stop early and hand out a
cursor for the rest, and big values are shortened with a visible marker and ``truncated: true``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from kitaru_core.requests import cursor as cursor_format

# ~20,000 tokens at ~4 characters per token. The server refuses anything larger as a last line
# of defence; tools aim for ITEMS_BUDGET so the envelope (count, cursor, hint) always fits.
MAX_RESULT_CHARS = 80_000
ITEMS_BUDGET = 76_000

DEFAULT_LIMIT = 20
MAX_LIMIT = 200

Limit = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_LIMIT,
        description=f"How many items to return (1 to {MAX_LIMIT}, default {DEFAULT_LIMIT}).",
        examples=[20],
    ),
]
Cursor = Annotated[
    str | None,
    Field(
        description="Opaque `next_cursor` from the previous page of this same list; omit it for "
        "the first page.",
    ),
]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list. Call the tool again with ``cursor=next_cursor`` while it is set."""

    model_config = ConfigDict(extra="forbid")

    items: list[T]
    count: int = Field(description="Number of items on this page.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null when this is the last page."
    )
    total: int | None = Field(default=None, description="Number of items in the whole list.")
    truncated: bool = Field(
        default=False, description="True when the page was cut short to stay within size limits."
    )
    hint: str | None = Field(default=None, description="How to get what was left out, if any.")


P = TypeVar("P", bound=Page[Any])


# ------------------------------------------------------------------------------------ cursors


# The format itself lives in ``kitaru_core.requests.cursor``; these name the tool's list.


def encode_cursor(kind: str, offset: int) -> str:
    """An opaque cursor for ``offset`` in the list called ``kind``."""
    return cursor_format.encode_cursor(offset, kind=kind)


def decode_cursor(cursor: str | None, kind: str) -> int:
    """The offset a cursor stands for; a cursor that is garbled, or from another list, is
    a validation error naming ``cursor``."""
    return cursor_format.decode_cursor(cursor, kind=kind)


# --------------------------------------------------------------------------------- pagination


def json_size(value: Any) -> int:
    """Characters of compact JSON for ``value`` (models included)."""
    if isinstance(value, BaseModel):
        return len(value.model_dump_json(by_alias=True))
    return len(json.dumps(value, default=str, separators=(",", ":")))


def paginate(
    page_type: type[P],
    items: Sequence[Any],
    *,
    kind: str,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    budget: int = ITEMS_BUDGET,
) -> P:
    """The page of ``items`` at ``cursor``: at most ``limit`` items and at most ``budget``
    characters of JSON (a page always holds at least one item when any are left)."""
    offset = decode_cursor(cursor, kind)
    window = list(items[offset : offset + limit])
    kept: list[Any] = []
    used = 0
    for item in window:
        size = json_size(item) + 1
        if kept and used + size > budget:
            break
        kept.append(item)
        used += size
    end = offset + len(kept)
    cut_short = len(kept) < len(window)
    return page_type(
        items=kept,
        count=len(kept),
        next_cursor=encode_cursor(kind, end) if end < len(items) else None,
        total=len(items),
        truncated=cut_short,
        hint=(
            f"Only {len(kept)} of the {len(window)} requested items fit in one result; "
            "call again with cursor=next_cursor for the rest."
            if cut_short
            else None
        ),
    )


def fit_page(
    page_type: type[P],
    items: Sequence[Any],
    *,
    next_cursor: str | None,
    cursor_after: Callable[[int], str],
    budget: int = ITEMS_BUDGET,
) -> P:
    """A page the service already cut at ``limit`` (and gave its own ``next_cursor``), trimmed
    to ``budget`` characters of JSON. When items are left out, ``cursor_after(n)`` must give the
    cursor that continues right after the first ``n`` items of this page."""
    kept: list[Any] = []
    used = 0
    for item in items:
        size = json_size(item) + 1
        if kept and used + size > budget:
            break
        kept.append(item)
        used += size
    cut_short = len(kept) < len(items)
    return page_type(
        items=kept,
        count=len(kept),
        next_cursor=cursor_after(len(kept)) if cut_short else next_cursor,
        truncated=cut_short,
        hint=(
            f"Only {len(kept)} of the {len(items)} requested items fit in one result; "
            "call again with cursor=next_cursor for the rest."
            if cut_short
            else None
        ),
    )


# ----------------------------------------------------------------------------- value bounding


@dataclass(frozen=True)
class Bounded:
    """A JSON value shortened to fit: ``truncated`` says whether anything was cut."""

    value: Any
    truncated: bool
    original_chars: int


def bound_value(value: Any, max_chars: int = ITEMS_BUDGET) -> Bounded:
    """``value`` (JSON-compatible) shortened until its JSON fits in ``max_chars``.

    Long strings keep their start, long lists their first items and big mappings their first
    keys; each cut leaves a marker saying how much was left out. Limits shrink step by step, so
    small parts of a big value survive intact.
    """
    size = json_size(value)
    if size <= max_chars:
        return Bounded(value, False, size)
    text_cap, items_cap = max(max_chars // 2, 64), 200
    while True:
        shortened = _shorten(value, text_cap, items_cap, depth=0)
        if json_size(shortened) <= max_chars or (text_cap <= 16 and items_cap <= 1):
            break
        text_cap, items_cap = max(text_cap // 2, 16), max(items_cap // 2, 1)
    if json_size(shortened) > max_chars:  # pathological nesting: fall back to a text preview
        preview = json.dumps(value, default=str)[: max(max_chars - 64, 0)]
        shortened = preview + f"… [truncated, {size} characters in all]"
    return Bounded(shortened, True, size)


_MAX_DEPTH = 12


def _shorten(value: Any, text_cap: int, items_cap: int, depth: int) -> Any:
    if isinstance(value, str):
        if len(value) <= text_cap:
            return value
        return value[:text_cap] + f"… [+{len(value) - text_cap} characters]"
    if depth >= _MAX_DEPTH and isinstance(value, (dict, list, tuple)):
        return f"[nested value omitted, {json_size(value)} characters]"
    if isinstance(value, dict):
        keys = list(value)
        shortened = {
            str(k): _shorten(value[k], text_cap, items_cap, depth + 1) for k in keys[:items_cap]
        }
        if len(keys) > items_cap:
            shortened["…"] = f"+{len(keys) - items_cap} more keys"
        return shortened
    if isinstance(value, (list, tuple)):
        head = [_shorten(item, text_cap, items_cap, depth + 1) for item in value[:items_cap]]
        if len(value) > items_cap:
            head.append(f"… +{len(value) - items_cap} more items")
        return head
    return value


def tail_text(text: str, max_chars: int) -> tuple[str, bool]:
    """The end of ``text`` (logs are read from the tail), cut at a line start when possible."""
    if len(text) <= max_chars:
        return text, False
    tail = text[-max_chars:]
    newline = tail.find("\n")
    if 0 <= newline < max_chars // 2:
        tail = tail[newline + 1 :]
    return tail, True
