"""A quick reachability check of a Kitaru (ZenML) server before ZenML talks to it.

ZenML's REST client retries a refused connection five times with back-off (about 30 s, each
retry logged as a urllib3 warning) and then fails with a long nested message. One short TCP
connect answers the common cases — server down, wrong port, host unreachable — in a few
seconds with one clear error. A server that accepts the connection is left to ZenML.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from kitaru_core.config.masking import mask_url
from kitaru_core.errors import KitaruBackendError, KitaruUsageError

# Long enough for a distant server over a slow link; short enough that a script's health check
# fails well within 5 s.
CONNECT_TIMEOUT = 3.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


def server_address(url: str) -> tuple[str, int]:
    """``(host, port)`` of an ``http(s)://`` server URL; a usage error if it has none."""
    parts = urlsplit(url)
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # a port that is not a number, or out of range
        port = None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or port is None:
        raise KitaruUsageError(
            f"{mask_url(url)!r} is not a server URL.",
            hint="Give the server's http:// or https:// address, e.g. https://kitaru.example.com.",
            details={"server_url": mask_url(url)},
        )
    return parts.hostname, port


def check_reachable(url: str, *, hint: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Raise a :class:`KitaruBackendError` at once if nothing accepts connections at ``url``.

    ``hint`` says what to do, in the words of where the URL came from (an env var, a login).
    """
    host, port = server_address(url)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise KitaruBackendError(
            f"Cannot reach the Kitaru server at {mask_url(url)} ({reason}).",
            hint=hint,
            details={"server_url": mask_url(url), "reason": reason},
        ) from None
