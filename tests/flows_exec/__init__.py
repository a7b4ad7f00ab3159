"""Flows for the execution-management tests (``tests/test_executions_*.py``, artifacts)."""
