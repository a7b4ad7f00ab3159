"""The ``kitaru`` command line: a thin shim over the core.

Each command parses its arguments, calls the same request builders and services as the MCP
tools, and renders the result as a rich table (people) or stable JSON (scripts). Command modules
import only ``click`` at import time, so ``kitaru --help`` never loads the engine.
"""
