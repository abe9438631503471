"""One way to get a warehouse engine, whatever the backend.

The embedded default is a SQLite file (WAL, so readers don't block the writer; a busy timeout
so a second process waits instead of failing). PostgreSQL URLs are pinned to psycopg 3, so the
warehouse never depends on which DBAPI SQLAlchemy would pick for a bare ``postgresql://``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url


def normalize_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_postgres(engine: sa.Engine) -> bool:
    return engine.dialect.name == "postgresql"


def safe_url(url: str) -> str:
    """The URL with its password masked: for logs and metadata."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # the DBAPI connect-hook signature
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@lru_cache(maxsize=16)
def create_warehouse_engine(url: str) -> sa.Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)
