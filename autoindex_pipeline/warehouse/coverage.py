"""What the warehouse holds, symbol by symbol: the reads behind the catch-up planner
(``domain.refresh.catch_up_plan``) and the shares cadence.

Two steps so a complete warehouse is cheap to check: :func:`symbol_spans` counts each symbol's
stored closes in one grouped query, and only the symbols whose count falls short are read row by
row with :func:`stored_sessions`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.warehouse import schema


def _day(value: dt.date | str | pd.Timestamp) -> dt.date:
    return pd.Timestamp(value).date()


def symbol_spans(engine: sa.Engine, symbols: Sequence[str], start: dt.date | str, end: dt.date | str) -> pd.DataFrame:
    """Per symbol with a valid close in [start, end]: first_close (its first such session) and
    sessions_held (how many it holds there). Symbols with none are absent."""
    table = schema.prices
    stmt = (
        sa.select(table.c.symbol, sa.func.min(table.c.date).label("first_close"), sa.func.count().label("sessions_held"))
        .where(table.c.close > 0, table.c.symbol.in_(list(symbols)), table.c.date.between(_day(start), _day(end)))
        .group_by(table.c.symbol)
        .order_by(table.c.symbol)
    )
    with engine.connect() as conn:
        frame = pd.read_sql(stmt, conn)
    frame["symbol"] = frame["symbol"].astype(str)
    frame["first_close"] = pd.to_datetime(frame["first_close"]).astype("datetime64[ns]")
    frame["sessions_held"] = frame["sessions_held"].astype("int64")
    return frame


def stored_sessions(engine: sa.Engine, symbols: Sequence[str], start: dt.date | str, end: dt.date | str) -> pd.DataFrame:
    """symbol, date of every valid stored close of ``symbols`` in [start, end]."""
    table = schema.prices
    if not symbols:
        return pd.DataFrame({"symbol": pd.Series(dtype=object), "date": pd.Series(dtype="datetime64[ns]")})
    stmt = (
        sa.select(table.c.symbol, table.c.date)
        .where(table.c.close > 0, table.c.symbol.in_(list(symbols)), table.c.date.between(_day(start), _day(end)))
        .order_by(table.c.symbol, table.c.date)
    )
    with engine.connect() as conn:
        frame = pd.read_sql(stmt, conn)
    frame["symbol"] = frame["symbol"].astype(str)
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    return frame


def shares_known_from(engine: sa.Engine, symbols: Sequence[str], source: str | None = None) -> pd.Series:
    """symbol -> the date its newest stored shares figure is known from (NaT when none); with
    ``source``, only that provider's figures count."""
    table = schema.market_cap_data
    stmt = sa.select(table.c.symbol, sa.func.max(table.c.date)).where(table.c.symbol.in_(list(symbols)))
    if source is not None:
        stmt = stmt.where(table.c.source == source)
    with engine.connect() as conn:
        found = dict(conn.execute(stmt.group_by(table.c.symbol)).all())
    return pd.Series({s: pd.Timestamp(found[s]) if s in found else pd.NaT for s in symbols}, dtype="datetime64[ns]")
