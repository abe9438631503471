"""Reads from the warehouse, returning frames with the same dtypes the providers produce."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.revisions import as_of_prices, bind_moment

TABLES = {t.name: t for t in schema.metadata.sorted_tables}


def _where_range(table: sa.Table, stmt: sa.Select, symbols, start, end) -> sa.Select:
    if symbols is not None:
        stmt = stmt.where(table.c.symbol.in_(list(symbols)))
    if start is not None:
        stmt = stmt.where(table.c.date >= pd.Timestamp(start).date())
    if end is not None:
        stmt = stmt.where(table.c.date <= pd.Timestamp(end).date())
    return stmt


def read_prices(
    engine: sa.Engine,
    symbols: Sequence[str] | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
) -> pd.DataFrame:
    """Raw stored prices, sorted by (symbol, date); ``date`` as datetime64[ns]. On PostgreSQL by
    COPY into pyarrow's CSV reader (see :func:`read_closes`): a year of 3,000 symbols through
    ``pd.read_sql``'s row objects held ~730 MiB at the quality report's peak."""
    table = schema.prices
    if engine.dialect.name == "postgresql":
        import pyarrow as pa

        stmt = sa.select(*(table.c[c] for c in _PRICE_COLUMNS[:-1]), utc_text(table.c.ingested_at))
        stmt = _where_range(table, stmt, symbols, start, end).order_by(table.c.symbol, table.c.date)
        types = {c: pa.float64() for c in _PRICE_COLUMNS}
        types.update(symbol=pa.string(), date=pa.date32(), source=pa.string(), ingested_at=pa.timestamp("us", tz="UTC"))
        frame = copy_frame(engine, stmt, types)
        if frame is not None:
            return _price_dtypes(frame)
    stmt = _where_range(table, sa.select(table), symbols, start, end).order_by(table.c.symbol, table.c.date)
    with engine.connect() as conn:
        return _price_dtypes(pd.read_sql(stmt, conn))


_PRICE_COLUMNS = ("symbol", "date", "open", "high", "low", "close", "volume", "adj_close", "source", "ingested_at")


def _price_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    for col in ("open", "high", "low", "close", "volume", "adj_close"):
        frame[col] = frame[col].astype("float64")
    return frame


def utc_text(column: sa.ColumnElement) -> sa.ColumnElement:
    """A timestamptz column as UTC text with its microseconds, under the column's name: what
    :func:`copy_frame` reads exactly into a ``pa.timestamp("us", tz="UTC")`` column."""
    return sa.func.to_char(sa.func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US').label(column.name)


def copy_frame(engine: sa.Engine, stmt: sa.Select, types: dict, nullable_strings: bool = False) -> pd.DataFrame | None:
    """``stmt``'s rows by ``COPY ... TO STDOUT`` (PostgreSQL) read by pyarrow's CSV reader into
    a frame with ``types`` (column name -> pyarrow type, in the select's order); None when
    there is no row (pyarrow refuses an empty CSV). A timestamp type with a zone reads the
    zone-less text of :func:`utc_text` as times in that zone. ``nullable_strings``: a text
    column's NULL (COPY writes it unquoted and empty, an empty text quoted) is read as None,
    not ''."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pa_csv

    sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    buffer = io.BytesIO()
    with engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
            for chunk in copy:
                buffer.write(chunk)
    if buffer.getbuffer().nbytes == 0:
        return None
    buffer.seek(0)
    table_ = pa_csv.read_csv(
        buffer,
        read_options=pa_csv.ReadOptions(column_names=list(types)),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.timestamp(t.unit) if pa.types.is_timestamp(t) else t for name, t in types.items()},
            # Only the unquoted empty field is NULL: pyarrow's default null markers ("NA",
            # "null", ...) are tickers and text too.
            **({"strings_can_be_null": True, "quoted_strings_can_be_null": False, "null_values": [""]}
               if nullable_strings else {}),
        ),
    )
    del buffer
    frame = table_.to_pandas()
    for name, type_ in types.items():
        if pa.types.is_timestamp(type_) and type_.tz:
            frame[name] = frame[name].dt.tz_localize(type_.tz)
    return frame


def read_closes(
    engine: sa.Engine,
    symbols: Sequence[str] | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    as_of: dt.datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """(symbol, date, close) only: what the strategy reads. On PostgreSQL it streams the rows
    with COPY ... TO STDOUT into pyarrow's CSV reader, several times faster than a cursor
    fetch for the ~1M rows of a long history. ``as_of``: the closes as the warehouse knew them
    then (each key's newest price revision recorded on or before it); None: the current ones."""
    if as_of is not None:
        stmt = as_of_prices(["symbol", "date", "close"], as_of, engine, symbols, start, end)
    else:
        table = schema.prices
        stmt = _where_range(table, sa.select(table.c.symbol, table.c.date, table.c.close), symbols, start, end)
        stmt = stmt.order_by(table.c.symbol, table.c.date)
    if engine.dialect.name == "postgresql":
        import pyarrow as pa

        frame = copy_frame(engine, stmt, {"symbol": pa.string(), "date": pa.date32(), "close": pa.float64()})
        if frame is None:
            frame = pd.DataFrame({"symbol": pd.Series(dtype=object), "date": pd.Series(dtype="datetime64[ns]"),
                                  "close": pd.Series(dtype=float)})
    else:
        with engine.connect() as conn:
            frame = pd.read_sql(stmt, conn)
    frame["symbol"] = frame["symbol"].astype(str)
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    frame["close"] = frame["close"].astype("float64")
    return frame


def read_shares(
    engine: sa.Engine, symbols: Sequence[str] | None = None, end: dt.date | str | None = None,
    as_of: dt.datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Point-in-time shares outstanding known on or before ``end``; ``as_of``: only figures
    ingested on or before that moment (a figure corrected later is unknown then: the table keeps
    the newest figure of a date, not the one it replaced)."""
    table = schema.market_cap_data
    stmt = _where_range(table, sa.select(table), symbols, None, end).order_by(table.c.symbol, table.c.date)
    if as_of is not None:
        stmt = stmt.where(table.c.ingested_at <= bind_moment(engine, as_of))
    with engine.connect() as conn:
        frame = pd.read_sql(stmt, conn)
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    return frame


def read_assets(engine: sa.Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(sa.select(schema.assets).order_by(schema.assets.c.symbol), conn)


def price_coverage(engine: sa.Engine, start: dt.date | str, end: dt.date | str) -> pd.DataFrame:
    """Per stored session in [start, end]: how many symbols have a row, and when the newest
    of them was ingested. Drives the smart refresh (missing / incomplete / premature days)."""
    table = schema.prices
    stmt = (
        sa.select(
            table.c.date,
            sa.func.count().label("symbols"),
            sa.func.min(table.c.ingested_at).label("first_ingested_at"),
        )
        .where(table.c.date.between(pd.Timestamp(start).date(), pd.Timestamp(end).date()))
        .group_by(table.c.date)
        .order_by(table.c.date)
    )
    with engine.connect() as conn:
        frame = pd.read_sql(stmt, conn)
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    frame["first_ingested_at"] = pd.to_datetime(frame["first_ingested_at"], utc=True)
    return frame


def table_counts(engine: sa.Engine) -> dict[str, int]:
    inspector = sa.inspect(engine)
    present = set(inspector.get_table_names())
    with engine.connect() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in TABLES.items()
            if name in present
        }


def read_table(engine: sa.Engine, name: str, where: dict[str, object] | None = None) -> pd.DataFrame:
    """A whole warehouse table (for `autoindex export`), optionally filtered by equality."""
    if name not in TABLES:
        raise KeyError(f"unknown table {name!r}; known: {', '.join(sorted(TABLES))}")
    table = TABLES[name]
    stmt = sa.select(table)
    for column, value in (where or {}).items():
        stmt = stmt.where(table.c[column] == value)
    pk = [c for c in table.primary_key.columns]
    with engine.connect() as conn:
        return pd.read_sql(stmt.order_by(*pk), conn)
