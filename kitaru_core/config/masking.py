"""Masking of secret values in every rendering (status, info, frozen execution spec, errors)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# A key is secret when its name contains one of these words. Over-masking a harmless value is a
# far smaller mistake than printing a credential, so the list is generous.
_SECRET_MARKERS = (
    "TOKEN",
    "API_KEY",
    "APIKEY",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "AUTHORIZATION",
)
MASK = "****"
# Values at least this long keep a short prefix (e.g. ``kat_****``) so users can tell which
# secret is configured; shorter ones are masked entirely.
_PREFIX_MIN_LENGTH = 12
_PREFIX_LENGTH = 4
_URL_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@]*):[^/]*@")


def is_secret_name(name: str) -> bool:
    """Whether a setting or variable called ``name`` holds a secret (``OPENAI_KEY`` does too)."""
    upper = name.upper()
    return any(marker in upper for marker in _SECRET_MARKERS) or upper.endswith("_KEY")


def mask_value(value: str | None) -> str | None:
    """Show at most a recognisable prefix of a secret, never enough to use it."""
    if value is None:
        return None
    if len(value) >= _PREFIX_MIN_LENGTH:
        return value[:_PREFIX_LENGTH] + MASK
    return MASK


def mask_url(url: str) -> str:
    """Hide a password embedded in a URL (``https://user:pw@host`` → ``https://user:****@host``)."""
    return _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)


def mask_mapping(values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``values`` with every secret-looking key masked (recursively, lists included)."""
    return {key: _mask_item(str(key), value) for key, value in values.items()}


def _mask_item(key: str, value: Any) -> Any:
    if isinstance(value, Mapping):
        return mask_mapping(value)
    if isinstance(value, (list, tuple)):
        return [_mask_item(key, item) for item in value]
    if value is None:
        return None
    if is_secret_name(key):
        return mask_value(str(value))
    if isinstance(value, str) and "@" in value:
        return mask_url(value)
    return value
