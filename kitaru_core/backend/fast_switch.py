"""The off switch each fast path in a run has (cache, checkpoint record, run record).

Tests and benchmarks compare a fast path with ZenML's own code by running the same work with
it switched off.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class FastSwitch:
    """On, except within :meth:`zenml_path_only` (per process, not per thread)."""

    def __init__(self) -> None:
        self.on = True

    @contextlib.contextmanager
    def zenml_path_only(self) -> Iterator[None]:
        """Within this block, the fast path leaves its work to ZenML's own code."""
        previous, self.on = self.on, False
        try:
            yield
        finally:
            self.on = previous
