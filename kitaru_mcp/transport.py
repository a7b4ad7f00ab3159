"""Serving the MCP server: stdio or streamable HTTP (bearer-token protected), plus store warm-up.

stdio: the SDK's transport points fd 1 at stderr while serving, so stray prints (ours, the
engine's, a child process's) cannot corrupt the JSON-RPC stream; logging goes to stderr as well.
HTTP: every request must carry ``Authorization: Bearer <KITARU_MCP_TOKEN>``; a missing or wrong
token gets 401 before the MCP app sees the request, so nothing runs. Auth can only be switched
off explicitly (``--no-auth``) and only on a loopback address.
"""

from __future__ import annotations

import hmac
import importlib
import ipaddress
import json
import logging
import os
import sys
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from kitaru_core.errors import KitaruUsageError
from kitaru_mcp.server import KitaruMCPServer

logger = logging.getLogger("kitaru_mcp")

TOKEN_ENV = "KITARU_MCP_TOKEN"
MCP_PATH = "/mcp"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# What the first executions_run would otherwise import in this process (none loads the engine).
_FIRST_CALL_MODULES = ("kitaru_core.runtime.loader", "kitaru_core.services.executions")


class StoreWarmup:
    """Warms what the first calls need, in a background thread, once the client has listed the
    tools (or after ``fallback_seconds`` for a client that never lists them).

    Always: the worker pool that starts executions. On a server: the engine and the store
    connection too, since every call goes through them (seconds of work that hold the GIL, so
    not before ``initialize``/``tools/list`` are answered). On the local store the read tools
    need no engine (``kitaru_core/backend/local_store.py``), so this process does not load it
    until a call that writes needs it: the server stays at about half the memory.
    """

    def __init__(
        self, fallback_seconds: float = 2.0, warm: Callable[[], None] | None = None
    ) -> None:
        self._go = threading.Event()
        self._fallback = fallback_seconds
        self._warm = warm or self._open_store
        self._thread: threading.Thread | None = None
        self._root_level = logging.WARNING
        self.done = threading.Event()

    def arm(self, server: KitaruMCPServer) -> None:
        self._root_level = logging.getLogger().level
        server.on_tools_listed = self._go.set
        self._thread = threading.Thread(target=self._run, name="kitaru-store-warmup", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self._go.wait(self._fallback)
        try:
            self._warm()
        except Exception as exc:  # the first real call reports it properly
            logger.warning("store warm-up failed: %s", exc)
        finally:
            self.done.set()

    def _open_store(self) -> None:
        from kitaru_core.backend.warmup import open_engine, quiet_engine_logging
        from kitaru_core.runtime.detach import warm_zygote

        # In the server process logs belong on stderr, at the level ``main`` chose.
        quiet_engine_logging(self._root_level)
        if not _reads_are_local():
            open_engine()
        # Then the warm process that starts executions quickly; started second so that it does
        # not compete with this process's own warm-up for the CPU.
        warm_zygote()
        for module in _FIRST_CALL_MODULES:
            importlib.import_module(module)


def _reads_are_local() -> bool:
    from kitaru_core.backend import local_store

    try:
        return local_store.open_local() is not None
    except Exception:  # a configuration problem: the first real call reports it
        return False


def divert_stdout_to_stderr() -> None:
    """Point fd 1 at stderr, so nothing (ours, the engine's, a child's) can print on stdout."""
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), 1)


def run_stdio(server: KitaruMCPServer, *, warm: bool = True) -> None:
    if warm:
        StoreWarmup().arm(server)
    server.run("stdio")


# ------------------------------------------------------------------------------------- HTTP


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def http_token(
    host: str, *, no_auth: bool, environ: MutableMapping[str, str] | None = None
) -> str | None:
    """The bearer token HTTP clients must send, or ``None`` for an explicit ``--no-auth`` on a
    loopback host. Anything else without a token is refused before the port is opened."""
    env = os.environ if environ is None else environ
    if no_auth:
        if not is_loopback(host):
            raise KitaruUsageError(
                f"--no-auth is only allowed on a loopback host, not {host!r}.",
                hint=f"Bind to 127.0.0.1, or set {TOKEN_ENV} and drop --no-auth.",
                details={"host": host},
            )
        return None
    token = env.get(TOKEN_ENV, "").strip()
    if not token:
        raise KitaruUsageError(
            f"The HTTP transport needs a bearer token in {TOKEN_ENV}.",
            hint=f"Set {TOKEN_ENV} to a long random secret (e.g. from `python -c 'import "
            "secrets; print(secrets.token_urlsafe(32))'`); on 127.0.0.1 only, --no-auth works too.",
            details={"missing": TOKEN_ENV},
        )
    return token


class BearerTokenGuard:
    """ASGI wrapper: HTTP requests without the right bearer token get 401 and go no further."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._expected = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Lifespan events pass through: they start the MCP session manager.
        if scope["type"] == "http" and not self._authorized(scope):
            await self._reject(send)
            return
        await self._app(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name.lower() == b"authorization":
                scheme, _, credential = bytes(value).strip().partition(b" ")
                # compare_digest: the time taken must not reveal how much of a guess was right.
                return scheme.lower() == b"bearer" and hmac.compare_digest(
                    credential.strip(), self._expected
                )
        return False

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            {
                "error": {
                    "code": "unauthorized",
                    "message": "Missing or invalid bearer token.",
                    "hint": f"Send 'Authorization: Bearer <{TOKEN_ENV}>'.",
                    "retryable": False,
                    "details": {},
                }
            }
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"www-authenticate", b'Bearer realm="kitaru-mcp"'),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def http_app(server: KitaruMCPServer, host: str, token: str | None) -> ASGIApp:
    app: ASGIApp = server.streamable_http_app(streamable_http_path=MCP_PATH, host=host)
    return app if token is None else BearerTokenGuard(app, token)


def run_http(
    server: KitaruMCPServer, *, host: str, port: int, no_auth: bool = False, warm: bool = True
) -> None:
    """Serve streamable HTTP on ``http://host:port/mcp`` until interrupted."""
    import uvicorn

    token = http_token(host, no_auth=no_auth)
    if token is None:
        logger.warning("HTTP auth is OFF (--no-auth); only local clients can reach %s", host)
    divert_stdout_to_stderr()
    if warm:
        StoreWarmup().arm(server)
    # log_config=None: uvicorn would otherwise print its access log on stdout.
    config = uvicorn.Config(
        http_app(server, host, token), host=host, port=port, log_config=None, access_log=False
    )
    logger.info("kitaru-mcp listening on http://%s:%d%s", host, port, MCP_PATH)
    uvicorn.Server(config).run()
