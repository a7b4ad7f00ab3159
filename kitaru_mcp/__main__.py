"""``kitaru-mcp``: run Kitaru's MCP server (stdio by default, or streamable HTTP)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from kitaru_core.errors import KitaruError
from kitaru_mcp.registry import Mode

USAGE_EXIT = 2


def parser() -> argparse.ArgumentParser:
    from kitaru_core import __version__

    p = argparse.ArgumentParser(
        prog="kitaru-mcp",
        description="Kitaru's MCP server: durable AI-agent workflows as tools for assistants.",
    )
    p.add_argument(
        "--mode",
        choices=[m.value for m in Mode],
        default=None,
        help="Which tools exist: read-only, standard (default) or destructive. "
        "Default: $KITARU_MCP_MODE or standard.",
    )
    p.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    p.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1).")
    p.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765).")
    p.add_argument(
        "--no-auth",
        action="store_true",
        help="HTTP without a bearer token; only allowed on a loopback host. Otherwise the token "
        "comes from $KITARU_MCP_TOKEN.",
    )
    p.add_argument(
        "--allow-path",
        action="append",
        default=None,
        metavar="DIR",
        help="A directory flow targets may be loaded from (repeatable; default: the current "
        "directory).",
    )
    p.add_argument("--version", action="version", version=f"kitaru-mcp {__version__}")
    return p


def configure_logging() -> None:
    """Everything goes to stderr: on stdio, stdout belongs to JSON-RPC."""
    from kitaru_core.config.env import debug_enabled

    debug = debug_enabled()
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("kitaru_mcp").setLevel(logging.DEBUG if debug else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure_logging()
    from kitaru_mcp.server import build_server
    from kitaru_mcp.transport import http_token, run_http, run_stdio

    try:
        if args.transport == "http":
            http_token(args.host, no_auth=args.no_auth)  # refuse before building anything
        server = build_server(args.mode, args.allow_path)
        if args.transport == "http":
            run_http(server, host=args.host, port=args.port, no_auth=args.no_auth)
        else:
            run_stdio(server)
    except KitaruError as exc:
        print(f"kitaru-mcp: {exc.message}\n  hint: {exc.hint}", file=sys.stderr)
        return USAGE_EXIT
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
