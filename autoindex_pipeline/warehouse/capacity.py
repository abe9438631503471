"""Sizes of the warehouse and their stored history (table `capacity_snapshots`).

Per table: exact row count, heap bytes (with TOAST on PostgreSQL) and index bytes, measured by
the database itself: ``pg_table_size`` / ``pg_indexes_size`` on PostgreSQL, the ``dbstat``
virtual table on SQLite (every b-tree's pages; an index is charged to its table). The whole
database: ``pg_database_size``, or the SQLite file plus its WAL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from autoindex_pipeline.warehouse.engine import is_postgres
from autoindex_pipeline.warehouse.schema import capacity_snapshots

TABLE_COLUMNS = ["name", "rows", "table_bytes", "index_bytes", "total_bytes"]
SNAPSHOT_COLUMNS = ["day", "kind", "name", "rows", "table_bytes", "index_bytes", "total_bytes", "free_bytes"]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _postgres_tables(conn: sa.Connection) -> pd.DataFrame:
    sizes = conn.execute(sa.text(
        """
        SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid), pg_total_relation_size(c.oid)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        ORDER BY c.relname
        """
    )).all()
    rows = []
    for name, table_bytes, index_bytes, total in sizes:
        count = conn.execute(sa.text(f"SELECT count(*) FROM {_quote(name)}")).scalar_one()
        rows.append((name, int(count), int(table_bytes), int(index_bytes), int(total)))
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def _sqlite_tables(conn: sa.Connection) -> pd.DataFrame:
    objects = conn.execute(sa.text(
        "SELECT name, type, tbl_name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_stat%'"
    )).all()
    pages = dict(conn.execute(sa.text("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")).all())
    tables = sorted(n for n, kind, _ in objects if kind == "table" and not n.startswith("sqlite_"))
    out = []
    for name in tables:
        table_bytes = int(pages.get(name, 0) or 0)
        index_bytes = sum(int(pages.get(n, 0) or 0) for n, kind, owner in objects if kind == "index" and owner == name)
        count = conn.execute(sa.text(f"SELECT count(*) FROM {_quote(name)}")).scalar_one()
        out.append((name, int(count), table_bytes, index_bytes, table_bytes + index_bytes))
    return pd.DataFrame(out, columns=TABLE_COLUMNS)


def measure_tables(engine: sa.Engine) -> pd.DataFrame:
    """One row per warehouse table: name, rows, table_bytes, index_bytes, total_bytes."""
    with engine.connect() as conn:
        return _postgres_tables(conn) if is_postgres(engine) else _sqlite_tables(conn)


def database_bytes(engine: sa.Engine) -> int:
    """The whole warehouse on disk: ``pg_database_size``, or the SQLite file and its WAL."""
    if is_postgres(engine):
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one())
    path = Path(make_url(str(engine.url)).database or "")
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.is_file())


def postgres_database_bytes(url: str) -> int:
    """Size of the PostgreSQL database at ``url`` (Dagster's storage when it is PostgreSQL)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one())
    finally:
        engine.dispose()


def store_snapshot(engine: sa.Engine, day: dt.date, rows: pd.DataFrame, measured_at: dt.datetime) -> int:
    """Replace the snapshot of ``day`` (a re-run the same day keeps one) with ``rows``
    (:data:`SNAPSHOT_COLUMNS` but ``day``)."""
    records = []
    for r in rows.to_dict("records"):
        record = {c: (None if pd.isna(r.get(c)) else int(r[c])) for c in SNAPSHOT_COLUMNS[3:]}
        records.append({"day": day, "kind": str(r["kind"]), "name": str(r["name"]), **record, "measured_at": measured_at})
    with engine.begin() as conn:
        conn.execute(capacity_snapshots.delete().where(capacity_snapshots.c.day == day))
        if records:
            conn.execute(capacity_snapshots.insert(), records)
    return len(records)


def read_history(engine: sa.Engine, since: dt.date | None = None, kinds: Sequence[str] | None = None) -> pd.DataFrame:
    """Stored snapshots (optionally from ``since`` on, of ``kinds``), oldest first."""
    query = sa.select(*(capacity_snapshots.c[c] for c in SNAPSHOT_COLUMNS))
    if since is not None:
        query = query.where(capacity_snapshots.c.day >= since)
    if kinds:
        query = query.where(capacity_snapshots.c.kind.in_(list(kinds)))
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query.order_by(capacity_snapshots.c.day)).all(), columns=SNAPSHOT_COLUMNS)
    frame["day"] = pd.to_datetime(frame["day"])
    return frame
