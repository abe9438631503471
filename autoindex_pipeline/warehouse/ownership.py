"""Writes and reads of the ownership tables (migration 0013). Insider transactions are
inserted when new (their id is a hash of the row: a repeated one is skipped, history is never
deleted); institutional holdings replace the rows of each (symbol, date_reported) a delivery
covers, so a restated 13F report replaces the old one and other dates stay."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.domain.ownership import HOLDINGS_COLUMNS, INSIDER_COLUMNS
from autoindex_pipeline.warehouse.locks import serialize_writers
from autoindex_pipeline.warehouse.schema import insider_transactions, institutional_holdings


def _records(frame: pd.DataFrame, columns, dates, source: str, at: dt.datetime) -> list[dict]:
    out = []
    for r in frame.loc[:, list(columns)].to_dict("records"):
        row = {k: (None if (v is None or (isinstance(v, float) and v != v)) else v) for k, v in r.items()}
        for d in dates:
            row[d] = pd.Timestamp(row[d]).date()
        out.append({**row, "source": source, "ingested_at": at})
    return out


def write_insider_transactions(engine: sa.Engine, frame: pd.DataFrame, source: str, at: dt.datetime) -> int:
    """Insert the transactions not stored yet; returns how many were new."""
    if frame.empty:
        return 0
    with engine.begin() as conn:
        serialize_writers(conn, "insider_transactions")
        ids = list(frame["transaction_id"])
        stored = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            stored |= set(conn.execute(sa.select(insider_transactions.c.transaction_id)
                                       .where(insider_transactions.c.transaction_id.in_(chunk))).scalars())
        new = frame[~frame["transaction_id"].isin(stored)]
        if len(new):
            conn.execute(insider_transactions.insert(), _records(new, INSIDER_COLUMNS, ["date"], source, at))
    return len(new)


def write_institutional_holdings(engine: sa.Engine, frame: pd.DataFrame, source: str, at: dt.datetime) -> int:
    """Replace the rows of each (symbol, date_reported) in ``frame``; returns the rows written."""
    if frame.empty:
        return 0
    t = institutional_holdings
    keys = frame.loc[:, ["symbol", "date_reported"]].drop_duplicates()
    with engine.begin() as conn:
        serialize_writers(conn, "institutional_holdings")
        for symbol, day in keys.itertuples(index=False, name=None):
            conn.execute(t.delete().where(t.c.symbol == symbol, t.c.date_reported == pd.Timestamp(day).date()))
        conn.execute(t.insert(), _records(frame, HOLDINGS_COLUMNS, ["date_reported"], source, at))
    return len(frame)


def read_insider_transactions(engine: sa.Engine, symbol: str | None = None) -> pd.DataFrame:
    query = sa.select(insider_transactions)
    if symbol:
        query = query.where(insider_transactions.c.symbol == symbol.upper())
    with engine.connect() as conn:
        return pd.read_sql(query.order_by(insider_transactions.c.symbol, insider_transactions.c.date), conn)


def read_institutional_holdings(engine: sa.Engine, symbol: str | None = None) -> pd.DataFrame:
    query = sa.select(institutional_holdings)
    if symbol:
        query = query.where(institutional_holdings.c.symbol == symbol.upper())
    with engine.connect() as conn:
        return pd.read_sql(query.order_by(institutional_holdings.c.symbol, institutional_holdings.c.date_reported,
                                          institutional_holdings.c.holder), conn)
