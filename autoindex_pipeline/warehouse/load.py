"""Bulk, idempotent writes.

Every write runs in ONE transaction: a re-run of a partition replaces exactly the rows it owns,
and a run killed mid-write (process gone, connection dropped) leaves the previous rows as they
were, because the database rolls the unfinished transaction back.

Prices: the frame is staged in a temporary table (COPY on PostgreSQL, the DBAPI's executemany on
SQLite), compared with the stored rows for the price revisions, then swapped in with DELETE +
INSERT ... SELECT. No row-by-row ORM work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import sqlalchemy as sa

from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.engine import is_postgres
from autoindex_pipeline.warehouse.locks import serialize_writers
from autoindex_pipeline.warehouse.revisions import record_price_revisions


@dataclass(frozen=True)
class WriteResult:
    rows_deleted: int
    rows_written: int
    revisions: int = 0
    """Price revisions the write added (``replace_prices``: new or changed keys, withdrawals)."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _timestamp_text(moment: dt.datetime, postgres: bool) -> str:
    """UTC timestamp as text in the form each backend's DateTime column reads back: SQLite
    stores SQLAlchemy's naive ISO form, PostgreSQL gets an explicit offset so the session's
    TimeZone setting cannot shift it."""
    text = moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return text + "+00:00" if postgres else text


def _price_rows(frame: pd.DataFrame, ingested_at: str) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "symbol": frame["symbol"].astype(str),
            "date": pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d"),
            "open": frame["open"],
            "high": frame["high"],
            "low": frame["low"],
            "close": frame["close"],
            "volume": frame["volume"],
            "adj_close": frame["adj_close"] if "adj_close" in frame.columns else float("nan"),
            "source": frame["source"].astype(str) if "source" in frame.columns else "unknown",
        }
    )
    out["ingested_at"] = ingested_at
    return out.loc[:, list(schema.PRICE_WRITE_COLUMNS)]


def _check_unique(frame: pd.DataFrame, keys: Sequence[str], table: str) -> None:
    dupes = frame[frame.duplicated(list(keys), keep=False)]
    if len(dupes):
        sample = dupes.loc[:, list(keys)].head(5).to_dict("records")
        raise ValueError(f"{table}: {len(dupes)} rows share a primary key ({', '.join(keys)}), e.g. {sample}")


def _copy_into_staging(conn: sa.Connection, table: str, columns: Sequence[str], rows: pd.DataFrame) -> str:
    """COPY ``rows`` into a transaction-scoped temp copy of ``table``; returns its name."""
    staging = f"{table}_staging"
    # pyarrow's CSV writer is several times faster than DataFrame.to_csv on float columns, and
    # writes NaN as an unquoted empty field, which COPY reads as NULL.
    buffer = pa.BufferOutputStream()
    pa_csv.write_csv(
        pa.Table.from_pandas(rows, preserve_index=False),
        buffer,
        pa_csv.WriteOptions(include_header=False, quoting_style="needed"),
    )
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(f"CREATE TEMP TABLE {staging} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP")
        with cursor.copy(f"COPY {staging} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(memoryview(buffer.getvalue()))
    finally:
        cursor.close()
    return staging


def _column_values(column: sa.Column, values: pd.Series, postgres: bool) -> pd.Series:
    """One column in the form both bulk paths bind as SQLAlchemy's own insert would store it:
    dates as ISO text, timestamps as ``_timestamp_text`` (UTC), booleans as true/false
    (PostgreSQL) or 1/0 (SQLite), integers without a decimal point, NaN as NULL."""
    kind = column.type
    if isinstance(kind, sa.DateTime):
        stamps = pd.to_datetime(values, utc=True)
        text = stamps.dt.strftime("%Y-%m-%d %H:%M:%S.%f") + ("+00:00" if postgres else "")
        return text.where(stamps.notna(), None)
    if isinstance(kind, sa.Date):
        days = pd.to_datetime(values)
        return days.dt.strftime("%Y-%m-%d").where(days.notna(), None)
    if isinstance(kind, sa.Boolean):
        return values.astype(bool) if postgres else values.astype(bool).astype(int)
    if isinstance(kind, sa.Integer):
        return values.astype("Int64") if postgres else values.astype("Int64").astype(object).where(values.notna(), None)
    return values


def insert_frame(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> int:
    """Append ``frame``'s rows (its columns that ``table`` has) to ``table`` in the caller's
    transaction, in bulk: COPY straight into the table on PostgreSQL (pyarrow CSV, as the
    prices), the DBAPI's executemany on SQLite. SQLAlchemy's ``insert()`` with a list of dicts
    spent most of the index step converting and binding values one row at a time. Returns the
    rows written."""
    if frame.empty:
        return 0
    postgres = is_postgres(conn.engine)
    columns = [c for c in table.columns if c.name in frame.columns]
    rows = pd.DataFrame({c.name: _column_values(c, frame[c.name], postgres) for c in columns})
    names = ", ".join(c.name for c in columns)
    if postgres:
        buffer = pa.BufferOutputStream()
        pa_csv.write_csv(pa.Table.from_pandas(rows, preserve_index=False), buffer,
                         pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
        cursor = conn.connection.driver_connection.cursor()
        try:
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(memoryview(buffer.getvalue()))
        finally:
            cursor.close()
    else:
        # itertuples yields Python scalars; sqlite3 binds a float NaN as NULL.
        conn.connection.driver_connection.executemany(
            f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' for _ in columns)})",
            rows.itertuples(index=False, name=None),
        )
    return len(rows)


def _delete_scope(
    conn: sa.Connection, symbols: Sequence[str], start: dt.date, end: dt.date, keep: Sequence[tuple[str, dt.date]] = ()
) -> int:
    table = schema.prices
    stmt = table.delete().where(table.c.symbol.in_(list(symbols)), table.c.date.between(start, end))
    if keep:
        stmt = stmt.where(sa.tuple_(table.c.symbol, table.c.date).not_in(list(keep)))
    return conn.execute(stmt).rowcount or 0


def _stage_rows(conn: sa.Connection, rows: pd.DataFrame) -> str:
    """The delivery in a temporary table of the transaction (COPY on PostgreSQL, executemany on
    SQLite): the revisions are found by comparing it with the stored rows in SQL before the
    swap. Returns its name."""
    columns = list(schema.PRICE_WRITE_COLUMNS)
    if is_postgres(conn.engine):
        return _copy_into_staging(conn, "prices", columns, rows)
    staging = "prices_staging"
    driver = conn.connection.driver_connection
    # A write that raised leaves the table on its pooled connection (sqlite3 runs the CREATE
    # outside the transaction it rolls back): start from a fresh one.
    driver.execute(f"DROP TABLE IF EXISTS temp.{staging}")
    driver.execute(f"CREATE TEMP TABLE {staging} AS SELECT {', '.join(columns)} FROM prices WHERE 0")
    # sqlite3 binds a float NaN as NULL, so the frame goes in without per-cell conversion.
    driver.executemany(
        f"INSERT INTO {staging} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
        rows.itertuples(index=False, name=None),
    )
    # SQLite plans the revision comparisons as lookups into the staged rows: without a key index
    # each stored row of the scope scanned them all (21 s for a 26k-row re-delivery).
    driver.execute(f"CREATE INDEX temp.ix_{staging} ON {staging} (symbol, date)")
    return staging


def _insert_staged(conn: sa.Connection, staging: str) -> None:
    columns = ", ".join(schema.PRICE_WRITE_COLUMNS)
    conn.exec_driver_sql(f"INSERT INTO prices ({columns}) SELECT {columns} FROM {staging}")
    if not is_postgres(conn.engine):  # PostgreSQL's is ON COMMIT DROP
        conn.exec_driver_sql(f"DROP TABLE temp.{staging}")


def replace_prices(
    engine: sa.Engine,
    frame: pd.DataFrame,
    symbols: Sequence[str],
    start: dt.date,
    end: dt.date,
    ingested_at: dt.datetime | None = None,
    keep: Sequence[tuple[str, dt.date]] = (),
    in_transaction: Callable[[sa.Connection], None] | None = None,
) -> WriteResult:
    """Make the stored prices of ``symbols`` on ``start..end`` exactly ``frame``.

    Only the (symbols x dates) scope is touched: a symbol the provider failed to deliver must
    not be in ``symbols``, so its stored rows survive. Rows of ``frame`` outside the scope are
    an error (they would be written without being owned by this write).

    ``keep``: (symbol, date) keys inside the scope whose stored rows must survive (a delivery
    refused by a blocking check never replaces what was stored; it adds no revision either).
    Every key whose value is new or changed, and every stored row the write removes, gets a
    ``price_revisions`` row in the same transaction (``warehouse/revisions.py``); an unchanged
    re-delivery gets none. ``in_transaction`` runs in the
    same transaction after the write (the refusals and verdicts of the run), so both land or
    neither does.
    """
    if len(frame):
        outside = frame[
            ~frame["symbol"].isin(list(symbols))
            | (pd.to_datetime(frame["date"]) < pd.Timestamp(start))
            | (pd.to_datetime(frame["date"]) > pd.Timestamp(end))
        ]
        if len(outside):
            raise ValueError(
                f"prices: {len(outside)} rows fall outside the write scope "
                f"({len(symbols)} symbols, {start}..{end}), e.g. {outside.iloc[0][['symbol', 'date']].to_dict()}"
            )
    _check_unique(frame, ("symbol", "date"), "prices")
    recorded_at = ingested_at or _utc_now()
    rows = _price_rows(frame, _timestamp_text(recorded_at, is_postgres(engine)))
    with engine.begin() as conn:
        serialize_writers(conn, "prices")
        staging = _stage_rows(conn, rows)
        # Before the swap: the stored rows are the "before" the delivery is compared with.
        revised = record_price_revisions(conn, staging, symbols, start, end, recorded_at, keep)
        deleted = _delete_scope(conn, symbols, start, end, keep) if symbols else 0
        _insert_staged(conn, staging)
        if in_transaction is not None:
            in_transaction(conn)
    return WriteResult(rows_deleted=deleted, rows_written=len(rows), revisions=revised)


def upsert_shares(engine: sa.Engine, frame: pd.DataFrame, ingested_at: dt.datetime | None = None) -> WriteResult:
    """Insert new and changed point-in-time shares outstanding; never deletes history (a
    provider that only knows today's figure must not erase the figures it told us before).

    Rows whose figure is already stored unchanged are skipped, so a daily refresh that re-reads
    the whole history writes only what is new, and ``ingested_at`` says when a figure was first
    (or last differently) seen."""
    if not len(frame):
        return WriteResult(0, 0)
    _check_unique(frame, ("symbol", "date"), "market_cap_data")
    records = pd.DataFrame(
        {
            "symbol": frame["symbol"].astype(str),
            "date": pd.to_datetime(frame["date"]).astype("datetime64[ns]"),
            "shares_outstanding": frame["shares_outstanding"].astype(float),
            "source": frame["source"].astype(str),
        }
    )
    table = schema.market_cap_data
    with engine.connect() as conn:
        stored = pd.read_sql(
            sa.select(table.c.symbol, table.c.date, table.c.shares_outstanding, table.c.source).where(
                table.c.symbol.in_(records["symbol"].unique().tolist())
            ),
            conn,
        )
    stored["date"] = pd.to_datetime(stored["date"]).astype("datetime64[ns]")
    merged = records.merge(stored, on=["symbol", "date"], how="left", suffixes=("", "_stored"))
    changed = merged[
        (merged["shares_outstanding"] != merged["shares_outstanding_stored"]) | (merged["source"] != merged["source_stored"])
    ]
    if changed.empty:
        return WriteResult(0, 0)
    rows = changed.loc[:, ["symbol", "date", "shares_outstanding", "source"]].assign(
        date=lambda f: f["date"].dt.date, ingested_at=ingested_at or _utc_now()
    )
    updated = ("shares_outstanding", "source", "ingested_at")
    with engine.begin() as conn:
        serialize_writers(conn, "market_cap_data")
        if is_postgres(engine):
            # COPY into a staging table, then one INSERT ... SELECT ... ON CONFLICT: the
            # executemany of the upsert bound ~30k rows one by one (1.1 s of a 5 y backfill).
            names = list(schema.SHARES_WRITE_COLUMNS)
            staged = pd.DataFrame({c: _column_values(table.c[c], rows[c], postgres=True) for c in names})
            staging = _copy_into_staging(conn, table.name, names, staged)
            conn.exec_driver_sql(
                f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {', '.join(names)} FROM {staging} "
                f"ON CONFLICT (symbol, date) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in updated)}"
            )
        else:
            from sqlalchemy.dialects.sqlite import insert

            stmt = insert(table)
            stmt = stmt.on_conflict_do_update(index_elements=[table.c.symbol, table.c.date],
                                              set_={c: stmt.excluded[c] for c in updated})
            conn.execute(stmt, rows.to_dict("records"))
    return WriteResult(0, len(rows))


def sync_assets(engine: sa.Engine, universe: pd.DataFrame) -> WriteResult:
    """Upsert the universe into `assets`; symbols that left it are flagged, never deleted
    (their price history stays queryable)."""
    table = schema.assets
    now = _utc_now()
    records = [
        {
            "symbol": row.symbol,
            "name": row.name,
            "asset_class": row.asset_class,
            "sector": row.sector,
            "is_benchmark": bool(row.is_benchmark),
            "in_universe": True,
            "updated_at": now,
        }
        for row in universe.itertuples(index=False)
    ]
    if is_postgres(engine):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.symbol],
        set_={c: stmt.excluded[c] for c in ("name", "asset_class", "sector", "is_benchmark", "in_universe", "updated_at")},
    )
    with engine.begin() as conn:
        serialize_writers(conn, "assets")
        retired = conn.execute(
            table.update()
            .where(table.c.symbol.not_in(universe["symbol"].tolist()), table.c.in_universe.is_(True))
            .values(in_universe=False, updated_at=now)
        ).rowcount
        if records:
            conn.execute(stmt, records)
    return WriteResult(rows_deleted=retired or 0, rows_written=len(records))
