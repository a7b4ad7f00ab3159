"""The one format of Kitaru's page cursors: opaque to callers, checked when they come back.

A cursor is the URL-safe base64 (unpadded) of compact JSON ``{"k": <list kind>, "o": <offset>}``.
The kind names the list that made it, so a cursor from one list is refused by another instead
of silently paging it at a wrong offset. Every surface (MCP pages, CLI ``--cursor``, the
services' lists) encodes and decodes here; a cursor that is garbled, forged, or from another
list is a :class:`~kitaru_core.errors.KitaruValidationError` naming the field it came in.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from kitaru_core.errors import KitaruValidationError

# The kind shared by the services' own lists (executions, flows): their cursors are offsets
# into a store query, made and read by the same request builders whatever the surface.
SERVICE_LIST = "list"
# Far past any real list, and small enough for every store to take as an OFFSET.
MAX_OFFSET = 2**31 - 1


def encode_cursor(offset: int, *, kind: str) -> str:
    """The opaque cursor that continues the list called ``kind`` at ``offset``."""
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise ValueError(f"a cursor offset must be a whole number from 0 to {MAX_OFFSET}")
    raw = json.dumps({"k": kind, "o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, kind: str, field: str = "cursor") -> int:
    """The offset ``cursor`` stands for in the list called ``kind`` (no cursor: the start).

    Anything this module did not encode for that list is refused, naming ``field``.
    """
    if cursor is None or not cursor.strip():
        return 0
    offset = _offset_in(_payload(cursor.strip()), kind)
    if offset is None:
        problem = f"{field} is not a next_cursor returned by this list; omit it to start over."
        raise KitaruValidationError(problem, fields={field: problem})
    return offset


def _payload(text: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):  # not base64, not UTF-8, or not JSON
        return None


def _offset_in(payload: Any, kind: str) -> int | None:
    if not isinstance(payload, dict) or payload.keys() != {"k", "o"} or payload["k"] != kind:
        return None
    offset = payload["o"]
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        return None
    return offset
