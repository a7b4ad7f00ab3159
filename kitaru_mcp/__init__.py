"""Kitaru's MCP server (``kitaru-mcp``): see :mod:`kitaru_mcp.server`."""
