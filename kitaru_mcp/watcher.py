"""Change events for listening clients: one store watcher per server, only while someone listens.

The SDK serves ``subscriptions/listen`` by subscribing each open stream to the server's
subscription bus. :class:`WatchingBus` is that bus, counting its listeners: the first one starts
one background task that polls the store (:class:`kitaru_core.services.changes.ChangeTracker`)
and publishes ``ResourceUpdated`` for what changed; the last one leaving stops it. So ten
listening clients cost one poll, and a server nobody listens to polls nothing. The SDK filters
each stream down to the URIs its client asked for.

Polling is the only option: executions run in other processes (detached workers), and SQLite
has no cross-process change notification. An idle store costs two ``stat`` calls per poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated, ServerEvent

from kitaru_mcp.resources import WAITING_URI, execution_logs_uri, execution_uri

logger = logging.getLogger("kitaru_mcp")

# How often the watcher looks at the store: changes reach listeners within about this long
# (plus the query, a few milliseconds) — well inside the one second promised.
POLL_SECONDS = 0.25
# When the store cannot be watched (a server connection): look again this rarely.
UNWATCHABLE_SECONDS = 5.0


class WatchingBus(InMemorySubscriptionBus):
    """The in-memory bus, plus the store watcher that runs while it has listeners."""

    def __init__(self, poll_seconds: float = POLL_SECONDS) -> None:
        super().__init__()
        self.poll_seconds = poll_seconds
        self._listeners_count = 0
        self._task: asyncio.Task[None] | None = None
        # Counters for tests and benchmarks: how many polls ran and how many started a watcher.
        self.polls = 0
        self.watchers_started = 0

    @property
    def watching(self) -> bool:
        """Whether the watcher task is running."""
        return self._task is not None and not self._task.done()

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        unsubscribe = super().subscribe(listener)
        self._listeners_count += 1
        if self._listeners_count == 1:
            self._start()
        done = False

        def leave() -> None:
            nonlocal done
            if done:  # the SDK may call it more than once; count each listener once
                return
            done = True
            unsubscribe()
            self._listeners_count -= 1
            if self._listeners_count == 0:
                self._stop()

        return leave

    def _start(self) -> None:
        # subscribe() runs on the server's event loop (in the listen handler).
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._watch(), name="kitaru-store-watcher")
        self.watchers_started += 1

    def _stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _watch(self) -> None:
        import anyio

        from kitaru_core.services.changes import ChangeTracker

        tracker = ChangeTracker()
        while True:
            self.polls += 1
            try:
                changes = await anyio.to_thread.run_sync(tracker.poll)
            except Exception:  # never let one bad poll end live updates for everyone
                logger.exception("store watcher: poll failed")
                changes = None
            if changes:
                await self._publish_changes(changes.executions, changes.waits)
            await anyio.sleep(self.poll_seconds if changes is not None else UNWATCHABLE_SECONDS)

    async def _publish_changes(self, executions: frozenset[str], waits: bool) -> None:
        for exec_id in sorted(executions):
            await self.publish(ResourceUpdated(uri=execution_uri(exec_id)))
            await self.publish(ResourceUpdated(uri=execution_logs_uri(exec_id)))
        if waits:
            await self.publish(ResourceUpdated(uri=WAITING_URI))
