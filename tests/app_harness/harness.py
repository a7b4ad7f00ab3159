"""The host harness: an HTTP server that plays an MCP Apps host for the execution app, and a
headless Chromium driven through the DevTools protocol.

The server serves ``host.html`` (the host page), the app's HTML as the real Kitaru MCP server
returns it from ``resources/read``, the first tool result (a real ``tools/call``), and forwards
every ``tools/call`` the app sends through the bridge to the same real server via
``mcp.Client``. Nothing is mocked: the page's data comes from a real store.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from kitaru_mcp.app import EXECUTION_APP_URI
from kitaru_mcp.server import KitaruMCPServer

HOST_PAGE = Path(__file__).resolve().parent / "host.html"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
WIDTH, HEIGHT = 1000, 700


def chromium_path() -> str | None:
    """The Chromium binary on PATH, if any."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class AppHost:
    """The harness's view of one Kitaru MCP server: real tool calls, serialised by a lock (one
    in-memory client session per call, each on its own event loop)."""

    def __init__(self, server: KitaruMCPServer, tool: str, arguments: dict[str, Any]) -> None:
        self.server = server
        self.tool = tool
        self.arguments = arguments
        self.calls: list[dict[str, Any]] = []  # every tools/call the app sent
        self.paths: list[str] = []  # every path the browser asked this server for
        self._lock = threading.Lock()

    def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        async def go() -> dict[str, Any]:
            async with Client(self.server) as client:
                result = await client.call_tool(name, arguments)
            return result.model_dump(mode="json", by_alias=True, exclude_none=True)

        with self._lock:
            return anyio.run(go)

    def app_html(self) -> str:
        async def go() -> str:
            async with Client(self.server) as client:
                contents = (await client.read_resource(EXECUTION_APP_URI)).contents
            return str(getattr(contents[0], "text", ""))

        with self._lock:
            return anyio.run(go)


def _handler(host: AppHost) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def _send(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, value: Any) -> None:
            self._send(json.dumps(value).encode(), "application/json")

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            host.paths.append(path)
            if path == "/":
                self._send(HOST_PAGE.read_bytes(), "text/html; charset=utf-8")
            elif path == "/app":
                self._send(host.app_html().encode(), "text/html; charset=utf-8")
            elif path == "/initial":
                result = host.call(host.tool, host.arguments)
                self._json({"arguments": host.arguments, "result": result})
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            host.paths.append(self.path)
            if self.path != "/call":
                self.send_error(404)
                return
            length = int(self.headers.get("Content-Length", "0"))
            params = json.loads(self.rfile.read(length) or b"{}")
            host.calls.append(params)
            result = host.call(params["name"], params.get("arguments") or {})
            self._json({"result": result})

    return Handler


@contextmanager
def serving(host: AppHost) -> Iterator[str]:
    """Serve the harness on a free local port; yield its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(host))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


class CdpError(RuntimeError):
    """A DevTools command failed."""


class Browser:
    """One headless Chromium page, driven over the DevTools protocol (``websockets``)."""

    def __init__(self, binary: str) -> None:
        from websockets.sync.client import connect

        self._profile = tempfile.mkdtemp(prefix="kitaru-chromium-")
        self._stack = ExitStack()
        self._process = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--hide-scrollbars",
                # One renderer process for the host and the sandboxed app, so the app's frame
                # can be read from the page's own DevTools session.
                "--disable-site-isolation-trials",
                "--disable-features=IsolateSandboxedIframes,site-per-process",
                f"--window-size={WIDTH},{HEIGHT}",
                "--remote-debugging-port=0",
                f"--user-data-dir={self._profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port = self._devtools_port()
            self._socket = self._stack.enter_context(
                connect(self._page_socket(port), max_size=None, open_timeout=60)
            )
        except BaseException:
            self.close()
            raise
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self._context: int | None = None
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
        )
        self.send("Page.enable")
        self.send("Network.enable")

    def _devtools_port(self, timeout: float = 60.0) -> int:
        # Chromium writes the port it picked to this file once DevTools listens.
        marker = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self._process.returncode}")
            if marker.exists():
                lines = marker.read_text().split()
                if lines:
                    return int(lines[0])
            time.sleep(0.1)
        raise RuntimeError("chromium did not open its DevTools port")

    @staticmethod
    def _page_socket(port: int) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as reply:
            targets = json.load(reply)
        pages = [t for t in targets if t.get("type") == "page"]
        return str(pages[0]["webSocketDebuggerUrl"])

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._next_id += 1
        ident = self._next_id
        self._socket.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        while True:
            message = json.loads(self._socket.recv(timeout=120))
            if message.get("id") == ident:
                if "error" in message:
                    raise CdpError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            if "method" in message:
                self.events.append(message)

    def open(self, url: str) -> None:
        self._context = None
        self.send("Page.navigate", {"url": url})

    def requested_urls(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def _app_context(self) -> int | None:
        """An isolated world in the app's iframe (shares its DOM, not its JS globals)."""
        if self._context is not None:
            return self._context
        tree = self.send("Page.getFrameTree")["frameTree"]
        children = tree.get("childFrames") or []
        if not children:
            return None
        frame_id = children[0]["frame"]["id"]
        world = self.send("Page.createIsolatedWorld", {"frameId": frame_id, "worldName": "test"})
        self._context = int(world["executionContextId"])
        return self._context

    def in_app(self, expression: str) -> Any:
        """Evaluate ``expression`` against the app's DOM; its JSON value (None before the app
        frame exists)."""
        context = self._app_context()
        if context is None:
            return None
        reply = self.send(
            "Runtime.evaluate",
            {"expression": expression, "contextId": context, "returnByValue": True},
        )
        if "exceptionDetails" in reply:
            raise CdpError(str(reply["exceptionDetails"].get("exception", reply)))
        return reply.get("result", {}).get("value")

    def in_host(self, expression: str) -> Any:
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return reply.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 180.0) -> Any:
        """Poll ``expression`` in the app until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                value = self.in_app(expression)
            except CdpError as exc:  # the frame was (re)loading: ask its new document next
                self._context = None
                last = str(exc)
            else:
                if value:
                    return value
                last = value
            time.sleep(0.25)
        raise AssertionError(f"timed out waiting for {expression!r}; last value {last!r}")

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        self._stack.close()
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=20)
        shutil.rmtree(self._profile, ignore_errors=True)


@contextmanager
def browser(binary: str) -> Iterator[Browser]:
    opened = Browser(binary)
    try:
        yield opened
    finally:
        opened.close()


# JavaScript read from the app's DOM by the tests and the screenshot script.
READ_APP = """(() => {
  const text = (id) => {
    const n = document.getElementById(id);
    return n && !n.hidden ? n.textContent : null;
  };
  const rows = [...document.querySelectorAll("#timeline tr[data-call-id]")];
  const form = document.getElementById("wait-form");
  const fields = form ? [...form.querySelectorAll("[data-field]")].map((f) => {
    const input = f.querySelector("input, select, textarea");
    return { name: f.dataset.field, tag: input.tagName.toLowerCase(), type: input.type,
             required: input.required, label: f.querySelector("label").textContent,
             options: input.tagName === "SELECT"
               ? [...input.options].map((o) => o.textContent) : null };
  }) : null;
  return {
    title: text("title"), status: text("status"), meta: text("meta"), notice: text("notice"),
    checkpoints: rows.map((r) => ({ call_id: r.dataset.callId, status: r.dataset.status,
                                    text: r.textContent })),
    question: form ? document.querySelector("#wait .question").textContent : null,
    fields: fields, result: text("result-section") === null ? null : text("result"),
    logs: document.getElementById("logs").textContent,
    replay_buttons: document.querySelectorAll("button[data-action=replay]").length,
  };
})()"""


def fill_and_submit(page: Browser, values: dict[str, str]) -> None:
    """Set the wait form's fields (a select by its option text) and submit it as a user
    would, with the form's own submit event."""
    script = """((values) => {
      const form = document.getElementById("wait-form");
      for (const [name, value] of Object.entries(values)) {
        const input = form.elements[name];
        if (input.tagName === "SELECT") {
          const option = [...input.options].find((o) => o.textContent === value);
          input.value = option.value;
        } else {
          input.value = value;
        }
        input.dispatchEvent(new Event("input", { bubbles: true }));
      }
      form.requestSubmit();
      return true;
    })"""
    assert page.in_app(f"{script}({json.dumps(values)})") is True
