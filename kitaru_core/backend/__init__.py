"""The only place (with ``kitaru_core.runtime``) that talks to ZenML.

Modules here import ZenML at module level; surfaces reach them lazily, from inside functions.
"""
