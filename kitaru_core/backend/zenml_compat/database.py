"""The database behind ZenML's SQL store.

ZenML name used: ``SqlZenStore.engine`` (its SQLAlchemy engine; a server's store has none).
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
    """In a forked child: drop the connections the parent pooled for ``store`` without
    closing them (they belong to the parent). Any SQL database; a server's store has none."""
    engine = getattr(store, "engine", None)
    if engine is not None:
        engine.dispose(close=False)
