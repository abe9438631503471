"""Market capitalisation and trading volume per stored close, from the view ``market_caps``
(migration 0012): close x the newest shares-outstanding figure known on that session. Data for
users and reports; the index's market-cap sleeve computes its own inputs in the domain."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

COLUMNS = ["symbol", "date", "close", "volume", "shares_outstanding", "shares_date", "market_cap", "dollar_volume"]


def read_market_caps(engine: sa.Engine, symbols: Sequence[str] | None = None, start: dt.date | None = None,
                     end: dt.date | None = None) -> pd.DataFrame:
    """Rows of ``market_caps`` by (symbol, date); a close with no shares figure known by then has
    no row (no market cap rather than a made-up one)."""
    where, params = [], {}
    if symbols:
        names = [f"s{i}" for i in range(len(symbols))]
        where.append(f"symbol IN ({', '.join(':' + n for n in names)})")
        params.update(dict(zip(names, symbols, strict=True)))
    if start is not None:
        where.append("date >= :start")
        params["start"] = start
    if end is not None:
        where.append("date <= :end")
        params["end"] = end
    sql = f"SELECT {', '.join(COLUMNS)} FROM market_caps" + (" WHERE " + " AND ".join(where) if where else "")
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(sa.text(sql + " ORDER BY symbol, date"), params).all(), columns=COLUMNS)
    for column in ("date", "shares_date"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def latest_market_caps(engine: sa.Engine, on: dt.date | None = None) -> pd.DataFrame:
    """The view's rows of one session: ``on``, or the newest session with a stored close (what
    the `market_cap_data` asset reports after each materialization)."""
    if on is None:
        with engine.connect() as conn:
            on = conn.execute(sa.text("SELECT max(date) FROM prices")).scalar()
        if on is None:
            return pd.DataFrame(columns=COLUMNS)
        on = pd.Timestamp(on).date()
    return read_market_caps(engine, start=on, end=on)
