"""Result shapes of the MCP tools: opaque cursors, pages that fit the size budget, bounded
values and the server's last-resort size cap. Pure functions: no store needed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _mcp_support import error
from mcp.types import CallToolResult, TextContent

from kitaru_mcp.results import (
    MAX_RESULT_CHARS,
    Page,
    bound_value,
    decode_cursor,
    encode_cursor,
    json_size,
    paginate,
    tail_text,
)
from kitaru_mcp.server import finish_result


class _Numbers(Page[dict[str, Any]]):
    pass


def test_cursors_are_opaque_and_checked() -> None:
    cursor = encode_cursor("stacks", 40)
    assert "40" not in cursor and decode_cursor(cursor, "stacks") == 40
    assert decode_cursor(None, "stacks") == 0
    for bad in ("junk", encode_cursor("executions", 3), "eyJrIjoic3RhY2tzIiwibyI6LTF9"):
        with pytest.raises(Exception) as caught:
            decode_cursor(bad, "stacks")
        assert getattr(caught.value, "fields", {}).keys() == {"cursor"}


def test_pages_stop_early_when_items_are_big_and_the_cursor_continues() -> None:
    items = [{"n": n, "blob": "y" * 3000} for n in range(30)]
    seen: list[int] = []
    cursor = None
    for _ in range(30):
        page = paginate(_Numbers, items, kind="n", limit=25, cursor=cursor, budget=20_000)
        assert json_size(page.items) <= 20_000
        assert page.count == len(page.items) and page.total == 30
        seen += [item["n"] for item in page.items]
        if page.count < 25 and page.next_cursor:
            assert page.truncated and page.hint and "cursor" in page.hint
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(range(30))


def test_bound_value_keeps_small_values_and_marks_cuts() -> None:
    small = {"a": [1, 2, 3], "b": "text"}
    assert bound_value(small, 1000).value == small and not bound_value(small, 1000).truncated
    long_text = bound_value("z" * 50_000, 2_000)
    assert long_text.truncated and long_text.original_chars > 50_000
    assert json_size(long_text.value) <= 2_000 and "characters]" in long_text.value
    rows = bound_value([{"id": i, "text": "w" * 200} for i in range(5_000)], 10_000)
    assert rows.truncated and json_size(rows.value) <= 10_000
    assert rows.value[0]["id"] == 0 and "more items" in rows.value[-1]
    deep: Any = "leaf"
    for _ in range(50):
        deep = {"k": deep, "pad": "p" * 500}
    nested = bound_value(deep, 3_000)
    assert nested.truncated and json_size(nested.value) <= 3_000


def test_tail_text_keeps_the_end() -> None:
    log = "\n".join(f"line {i}" for i in range(10_000))
    tail, cut = tail_text(log, 500)
    assert cut and tail.endswith("line 9999") and len(tail) <= 500
    assert tail.startswith("line ")  # starts at a line boundary
    assert tail_text("short", 500) == ("short", False)


def test_a_result_over_the_size_limit_is_refused() -> None:
    huge = {"items": ["x" * (MAX_RESULT_CHARS + 10)]}
    result = finish_result(
        CallToolResult(content=[TextContent(type="text", text="")], structured_content=huge)
    )
    assert isinstance(result, CallToolResult) and result.is_error
    assert error(result)["code"] == "result_too_large"


def test_an_error_result_never_carries_structured_content() -> None:
    # Even if something upstream attached a body, finish_result strips it: strict clients
    # validate structuredContent against the success schema, even on errors.
    body = {"error": {"code": "x", "message": "m", "hint": "h", "retryable": False, "details": {}}}
    raw = CallToolResult(
        content=[TextContent(type="text", text=json.dumps(body))],
        structured_content=body,
        is_error=True,
    )
    result = finish_result(raw)
    assert isinstance(result, CallToolResult) and result.is_error
    assert result.structured_content is None
    assert error(result)["code"] == "x"
    wire = result.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert "structuredContent" not in wire and wire["isError"] is True
