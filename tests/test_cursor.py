"""One cursor format for every list (issue 18, item 5): the services' lists, the MCP pages and
the CLI's ``--cursor`` all read and write ``kitaru_core.requests.cursor``; anything it did not
write for that list is refused with a validation error naming the field."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kitaru_core.errors import KitaruValidationError
from kitaru_core.requests import cursor
from kitaru_core.requests import executions as requests
from kitaru_mcp import results


def _b64(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize("offset", [0, 1, 199, 4242, cursor.MAX_OFFSET])
def test_round_trip_for_every_list(offset: int) -> None:
    for kind in ("stacks", "artifacts:0b1c", cursor.SERVICE_LIST):
        text = cursor.encode_cursor(offset, kind=kind)
        assert "=" not in text  # safe in a URL and on a command line
        assert cursor.decode_cursor(text, kind=kind) == offset
        assert cursor.decode_cursor(f"  {text}\n", kind=kind) == offset  # pasted with spaces


def test_every_surface_writes_the_same_format() -> None:
    # The services' lists (CLI, SDK, MCP executions/flows) and the MCP pages agree byte for byte.
    assert requests.encode_cursor(40) == cursor.encode_cursor(40, kind=cursor.SERVICE_LIST)
    assert results.encode_cursor("stacks", 40) == cursor.encode_cursor(40, kind="stacks")
    assert requests.decode_cursor(results.encode_cursor(cursor.SERVICE_LIST, 7)) == 7


def test_no_cursor_means_the_first_page() -> None:
    for empty in (None, "", "   "):
        assert cursor.decode_cursor(empty, kind="stacks") == 0


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param("not-a-cursor!", id="not-base64"),
        pytest.param("abc", id="short"),
        pytest.param(base64.urlsafe_b64encode(b"\xff\xfe").decode(), id="not-utf8"),
        pytest.param(_b64([1, 2]), id="a-list"),
        pytest.param(_b64({"o": 3}), id="the-old-kindless-format"),
        pytest.param(_b64({"offset": 3}), id="someone-elses-format"),
        pytest.param(_b64({"k": "waits", "o": 3}), id="another-lists-cursor"),
        pytest.param(_b64({"k": "stacks", "o": -5}), id="negative"),
        pytest.param(_b64({"k": "stacks", "o": "7"}), id="offset-as-text"),
        pytest.param(_b64({"k": "stacks", "o": True}), id="offset-as-bool"),
        pytest.param(_b64({"k": "stacks", "o": 1.5}), id="offset-as-float"),
        pytest.param(_b64({"k": "stacks", "o": 10**30}), id="offset-past-any-store"),
        pytest.param(_b64({"k": "stacks", "o": 3, "x": 1}), id="extra-key"),
    ],
)
def test_a_forged_or_garbled_cursor_names_the_field(forged: str) -> None:
    with pytest.raises(KitaruValidationError) as caught:
        cursor.decode_cursor(forged, kind="stacks", field="page_cursor")
    assert caught.value.code == "validation_error"
    assert list(caught.value.fields) == ["page_cursor"]
    assert "page_cursor" in caught.value.message


def test_the_wrappers_keep_naming_cursor() -> None:
    with pytest.raises(KitaruValidationError) as caught:
        requests.decode_cursor("junk")
    assert list(caught.value.fields) == ["cursor"]
    with pytest.raises(KitaruValidationError) as caught:
        results.decode_cursor("junk", "stacks")
    assert list(caught.value.fields) == ["cursor"]


@pytest.mark.parametrize("offset", [-1, cursor.MAX_OFFSET + 1, True])
def test_an_offset_no_list_has_is_not_encoded(offset: int) -> None:
    with pytest.raises(ValueError):
        cursor.encode_cursor(offset, kind="stacks")
