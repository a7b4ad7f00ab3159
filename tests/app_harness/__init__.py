"""A minimal MCP Apps host for tests: a page that iframes an app and speaks the bridge, a tiny
HTTP server that forwards the app's tool calls to a real Kitaru MCP server, and a headless
Chromium driven over its DevTools protocol."""
