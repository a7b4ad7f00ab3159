"""Change events for listening clients: one store watcher per server, only while someone listens.

The SDK serves ``subscriptions/listen`` by subscribing each open stream to the server's
subscription bus. :class:`WatchingBus` is that bus, counting its listeners: the first one starts
one background task that polls the store (:class:`kitaru_core.services.changes.ChangeTracker`)
and publishes ``ResourceUpdated`` for what changed; the last one leaving stops it. So ten
listening clients cost one poll, and a server nobody listens to polls nothing. The SDK filters
each stream down to the URIs its client asked for.

Polling is the only option: executions run in other processes (detached workers), and SQLite
has no cross-process change notification. An idle store costs two ``stat`` calls per poll.

Two details make the promise exact:

* **No gap at the start.** The watcher compares each poll with the previous one, so it needs a
  first picture of the store. :meth:`WatchingBus.prepare` takes it *before* a listener is
  acknowledged (a middleware runs it ahead of ``subscriptions/listen``; the legacy subscribe
  handler awaits it), so every change after the acknowledgement differs from that picture.
* **Older clients.** Clients on the handshake protocols (up to 2025-11-25; e.g. the official
  TypeScript SDK 1.x) use ``resources/subscribe`` / ``resources/unsubscribe`` and expect
  ``notifications/resources/updated`` on the connection. :func:`install` serves those methods
  from the same bus: each such connection is one more listener of the one watcher. Serving
  ``resources/subscribe`` also makes the SDK advertise ``resources.subscribe`` to them (newer
  clients see it because ``subscriptions/listen`` is served).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated, ServerEvent
from mcp_types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from kitaru_mcp.resources import WAITING_URI, execution_logs_uri, execution_uri

if TYPE_CHECKING:
    from mcp.server.connection import Connection
    from mcp.server.mcpserver import MCPServer
    from mcp.server.session import ServerSession

    from kitaru_core.services.changes import ChangeTracker

logger = logging.getLogger("kitaru_mcp")

# How often the watcher looks at the store: changes reach listeners within about this long
# (plus the query, a few milliseconds) — well inside the one second promised.
POLL_SECONDS = 0.25
# When the store cannot be watched right now: look again this rarely.
UNWATCHABLE_SECONDS = 5.0
# Events a legacy subscriber may have queued before its client reads them; beyond, drop.
LEGACY_BACKLOG = 256


class WatchingBus(InMemorySubscriptionBus):
    """The in-memory bus, plus the store watcher that runs while it has listeners."""

    def __init__(self, poll_seconds: float = POLL_SECONDS) -> None:
        super().__init__()
        self.poll_seconds = poll_seconds
        self._listeners_count = 0
        self._task: asyncio.Task[None] | None = None
        # A first picture of the store taken by prepare(), for the next watcher to start from.
        self._baseline: ChangeTracker | None = None
        # Counters for tests and benchmarks: how many polls ran and how many started a watcher.
        self.polls = 0
        self.watchers_started = 0

    @property
    def watching(self) -> bool:
        """Whether the watcher task is running."""
        return self._task is not None and not self._task.done()

    @property
    def listeners(self) -> int:
        """How many listeners (listen streams and legacy-subscribed connections) are open."""
        return self._listeners_count

    def serve(self, server: MCPServer[Any]) -> None:
        """Hook this bus into ``server`` (see :func:`install`)."""
        install(server, self)

    async def prepare(self) -> None:
        """Take a first picture of the store, before a new listener is acknowledged.

        The watcher started for that listener (if none runs yet) compares its first poll with
        this picture, so a change between the acknowledgement and that poll is announced. One
        query per new listener; a picture older than needed only costs extra notices, never a
        missed one, so a concurrent or leftover picture is harmless.
        """
        import anyio

        from kitaru_core.services.changes import ChangeTracker

        # Each call polls its own tracker, so concurrent calls share nothing but the slot.
        tracker = ChangeTracker()
        try:
            await anyio.to_thread.run_sync(tracker.poll)
        except Exception:  # the watcher retries on its own; the listener still gets in
            logger.exception("store watcher: first picture failed")
            return
        self._baseline = tracker

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
        tracker, self._baseline = self._baseline, None
        self._task = loop.create_task(self._watch(tracker), name="kitaru-store-watcher")
        self.watchers_started += 1

    def _stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _watch(self, tracker: ChangeTracker | None) -> None:
        import anyio

        from kitaru_core.services.changes import ChangeTracker

        # Without a prepared picture (a listener that bypassed prepare()), the first poll is it.
        tracker = tracker or ChangeTracker()
        while True:
            self.polls += 1
            try:
                changes = await anyio.to_thread.run_sync(tracker.poll)
            except Exception:  # never let one bad poll end live updates for everyone
                logger.exception("store watcher: poll failed")
                changes = None
            if changes:
                await self._publish_changes(changes.executions, changes.waits)
            pause = tracker.poll_seconds if changes is not None else UNWATCHABLE_SECONDS
            await anyio.sleep(max(self.poll_seconds, pause))

    async def _publish_changes(self, executions: frozenset[str], waits: bool) -> None:
        for exec_id in sorted(executions):
            await self.publish(ResourceUpdated(uri=execution_uri(exec_id)))
            await self.publish(ResourceUpdated(uri=execution_logs_uri(exec_id)))
        if waits:
            await self.publish(ResourceUpdated(uri=WAITING_URI))


# ------------------------------------------------------------- older clients: resources/subscribe


class LegacySubscriber:
    """One handshake-era connection's ``resources/subscribe`` URIs: one listener on the bus,
    and one task that sends the matching ``notifications/resources/updated`` in order."""

    def __init__(self, bus: WatchingBus, session: ServerSession) -> None:
        import anyio

        self.uris: set[str] = set()
        # The session of the first subscribe request: its notifications without a related
        # request go to the connection's own channel, which outlives that request.
        self._session = session
        self._send, self._receive = anyio.create_memory_object_stream[str](LEGACY_BACKLOG)
        self._leave = bus.subscribe(self._deliver)
        self._task = asyncio.get_running_loop().create_task(
            self._forward(), name="kitaru-legacy-subscriber"
        )

    def _deliver(self, event: ServerEvent) -> None:
        import anyio

        if isinstance(event, ResourceUpdated) and event.uri in self.uris:
            try:
                self._send.send_nowait(event.uri)
            except (anyio.WouldBlock, anyio.ClosedResourceError):
                # A client that stopped reading loses notices (it can read the resource again).
                logger.debug("legacy subscriber backlog full or closed; dropped %s", event.uri)

    async def _forward(self) -> None:
        async for uri in self._receive:
            try:
                await self._session.send_resource_updated(uri)
            except Exception:  # the connection is gone: stop listening
                logger.debug("legacy subscriber: sending failed; closing", exc_info=True)
                self.close()
                return

    def close(self) -> None:
        """Leave the bus and stop forwarding (idempotent)."""
        self._leave()
        self._send.close()
        if asyncio.current_task() is not self._task:
            self._task.cancel()


_STATE_KEY = "kitaru.legacy_subscriber"


def _connection_of(ctx: ServerRequestContext[Any, Any]) -> Connection:
    # The SDK keeps the per-client Connection (its ``state`` and teardown ``exit_stack``) on
    # the request's session without a public accessor for lowlevel handlers.
    connection: Connection = ctx.session._connection
    return connection


def legacy_handlers(
    bus: WatchingBus,
) -> tuple[
    Callable[[ServerRequestContext[Any, Any], SubscribeRequestParams], Any],
    Callable[[ServerRequestContext[Any, Any], UnsubscribeRequestParams], Any],
]:
    """The ``resources/subscribe`` and ``resources/unsubscribe`` handlers over ``bus``."""

    async def subscribe(
        ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        connection = _connection_of(ctx)
        subscriber = connection.state.get(_STATE_KEY)
        if subscriber is None:
            await bus.prepare()  # before the reply: no change after it can be missed
            # A concurrent subscribe of this connection may have made one meanwhile.
            subscriber = connection.state.get(_STATE_KEY)
        if subscriber is None:
            subscriber = LegacySubscriber(bus, ctx.session)
            connection.state[_STATE_KEY] = subscriber
            connection.exit_stack.callback(subscriber.close)
        subscriber.uris.add(str(params.uri))
        return EmptyResult()

    async def unsubscribe(
        ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        connection = _connection_of(ctx)
        subscriber = connection.state.get(_STATE_KEY)
        if subscriber is not None:
            subscriber.uris.discard(str(params.uri))
            if not subscriber.uris:  # nothing left to watch for this client
                subscriber.close()
                del connection.state[_STATE_KEY]
        return EmptyResult()

    return subscribe, unsubscribe


def install(server: MCPServer[Any], bus: WatchingBus) -> None:
    """Make ``server``'s live updates exact and reachable by every client: the first picture
    is taken before ``subscriptions/listen`` is acknowledged, and ``resources/subscribe`` /
    ``resources/unsubscribe`` are served for handshake-era clients from the same bus."""

    async def prepare_listen(
        ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if ctx.method == "subscriptions/listen":
            await bus.prepare()
        return await call_next(ctx)

    server.middleware.append(prepare_listen)
    subscribe, unsubscribe = legacy_handlers(bus)
    # Lowlevel registration is the SDK's documented way to serve a method the 2026 revision
    # removed; its per-version gate keeps them off modern connections.
    lowlevel = server._lowlevel_server
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
