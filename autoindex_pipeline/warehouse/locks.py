"""Writers of the same table take turns.

Two overlapping runs that replace the same rows would otherwise race on PostgreSQL: the second
run's DELETE cannot see the rows the first one inserted but has not committed, and its INSERT
then dies on the primary key. A transaction-scoped advisory lock per table makes the second
writer wait for the first to commit, after which its DELETE sees (and replaces) those rows; the
lock is released by COMMIT or ROLLBACK, so a killed writer never leaves it held.

SQLite serialises writers by itself (one write transaction at a time, ``busy_timeout`` in
``engine.py``), so nothing is needed there.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

import sqlalchemy as sa

from autoindex_pipeline.warehouse.engine import is_postgres

logger = logging.getLogger(__name__)


def lock_key(scope: str) -> int:
    """A stable signed 64-bit key for ``scope`` (the same in every process and release)."""
    return int.from_bytes(hashlib.blake2b(scope.encode(), digest_size=8).digest(), "big", signed=True)


def serialize_writers(conn: sa.Connection, scope: str, on_wait: Callable[[str], None] | None = None) -> None:
    """Inside a write transaction: wait until no other transaction writes ``scope``; says so
    (log line, and ``on_wait``) when it has to wait."""
    if not is_postgres(conn.engine):
        return
    key = lock_key(scope)
    if conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}).scalar():
        return
    message = f"another run is writing {scope}; waiting for it to commit"
    logger.info(message)
    if on_wait is not None:
        on_wait(message)
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
