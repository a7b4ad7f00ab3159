"""The database behind ZenML's SQL store.

ZenML names used: ``SqlZenStore.engine`` (its SQLAlchemy engine; a server's store has none)
and ``RestZenStore.reinitialize_session`` (a server client's fresh HTTP connection pool).
"""

from __future__ import annotations

from typing import Any


def sqlite_engine(store: Any) -> Any | None:
    """The SQLAlchemy engine of ``store`` when it is a SQL store on SQLite; else ``None``."""
    engine = getattr(store, "engine", None)
    if engine is None or engine.dialect.name != "sqlite":
        return None
    return engine


def sqlite_file(store: Any) -> str | None:
    """The path of the SQLite database file ``store`` writes to; ``None`` for a server's store,
    another database, or an in-memory one."""
    engine = sqlite_engine(store)
    return (engine.url.database or None) if engine is not None else None


def forget_pooled_connections(store: Any) -> None:
    """In a forked child: stop using the connections the parent pooled for ``store``.

    A SQL store's engine drops its pool without closing it (the connections belong to the
    parent). A server's client gets a fresh HTTP session: sharing the parent's keep-alive
    sockets, sibling workers would read each other's responses off one socket. Closing the
    child's copies of those sockets leaves the parent's open (the descriptors are duplicates).
    """
    engine = getattr(store, "engine", None)
    if engine is not None:
        engine.dispose(close=False)
    reinitialize = getattr(store, "reinitialize_session", None)
    if callable(reinitialize):  # RestZenStore: keeps the headers (the Authorization token)
        reinitialize()
