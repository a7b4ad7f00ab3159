"""MCP tools, one module per group (``system``, ``stacks``, …).

Each module exposes ``TOOLS``: a tuple of plain functions whose ``__name__`` is the tool name
(its row in :mod:`kitaru_mcp.registry` gives title, mode and annotations). A tool function is a
thin layer — arguments → request builder → service → result model — and imports its service
inside the function body, so listing tools never imports the engine.
"""
