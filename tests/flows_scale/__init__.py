"""Flows for the scale and crash-point tests (``tests/test_concurrency_local.py``,
``tests/test_crash_points.py``) and ``benchmarks/scale.py``."""
