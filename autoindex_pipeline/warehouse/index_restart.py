"""What an index update needs to restart from a stored rebalance instead of the base date
(``services/index_restart.py``, issue 14).

The state after the close of a rebalance ``R`` is fully stored already, by the transaction that
wrote the index: the level there (``index_values``, both series and their benchmarks) and the
weights held, which after a rebalance are exactly that date's targets (``allocations``). So no
separate copy is kept: reading both back gives the state the engine had (floats round-trip
exactly on both backends).
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.revisions import bind_moment


def earliest_input_change(engine: sa.Engine, since: dt.datetime, with_sentiment: bool = False) -> pd.Timestamp | None:
    """The earliest session date any index input recorded after ``since`` is dated on: a price
    written, changed or withdrawn (``prices.ingested_at``, ``price_revisions.recorded_at``), a
    shares figure (``market_cap_data.ingested_at``), a reviewed price (``price_overrides.created_at``),
    a corporate action (its ex-date, by ``first_seen``) and, ``with_sentiment``, a sentiment day
    (``sentiment_daily.computed_at``). None: nothing was recorded since.

    Every input is causal (cleaning fills forward, signals read windows ending at their date,
    shares are point in time, split factors multiply forward), so nothing dated before the
    answer changed."""
    moment = bind_moment(engine, since)
    prices, revisions, shares = schema.prices, schema.price_revisions, schema.market_cap_data
    overrides, events, sentiment = schema.price_overrides, schema.corporate_actions, schema.sentiment_daily
    queries = [
        sa.select(sa.func.min(prices.c.date)).where(prices.c.ingested_at > moment),
        sa.select(sa.func.min(revisions.c.date)).where(revisions.c.recorded_at > moment),
        sa.select(sa.func.min(shares.c.date)).where(shares.c.ingested_at > moment),
        sa.select(sa.func.min(overrides.c.date)).where(overrides.c.created_at > moment),
        sa.select(sa.func.min(events.c.ex_date)).where(events.c.first_seen > moment),
    ]
    if with_sentiment:
        queries.append(sa.select(sa.func.min(sentiment.c.date)).where(sentiment.c.computed_at > moment))
    with engine.connect() as conn:
        dates = [conn.execute(query).scalar() for query in queries]
    known = [pd.Timestamp(d).normalize() for d in dates if d is not None]
    return min(known) if known else None


def read_rebalance_state(engine: sa.Engine, name: str, version: str, before: pd.Timestamp) -> dict | None:
    """The stored state after the close of the last rebalance of (``name``, ``version``) strictly
    after its base date and strictly before ``before``, in the form of an ``index_state`` row
    (date, level, benchmark_level, holdings as JSON text, and the ``price_*`` of the price-return
    series, which holds the same targets). None: no such rebalance, or one stored without a
    price-return level or without targets."""
    values, allocations = schema.index_values, schema.allocations
    mine = (values.c.strategy == name, values.c.version == version)
    with engine.connect() as conn:
        base = conn.execute(sa.select(sa.func.min(values.c.date)).where(*mine)).scalar()
        if base is None:
            return None
        row = conn.execute(
            sa.select(values.c.date, values.c.level, values.c.benchmark_level, values.c.price_level,
                      values.c.price_benchmark_level)
            .where(*mine, values.c.is_rebalance == sa.true(), values.c.date > base,
                   values.c.date < pd.Timestamp(before).date())
            .order_by(values.c.date.desc())
            .limit(1)
        ).mappings().first()
        if row is None or row["level"] is None or row["price_level"] is None:
            return None
        weights = conn.execute(
            sa.select(allocations.c.symbol, allocations.c.weight)
            .where(allocations.c.strategy == name, allocations.c.version == version, allocations.c.date == row["date"])
            .order_by(allocations.c.symbol)
        ).all()
    # The engine's state keeps the positive weights only.
    holdings = json.dumps({symbol: float(weight) for symbol, weight in weights if weight > 0})
    if holdings == "{}":
        return None
    return {
        "date": pd.Timestamp(row["date"]).date(),
        "level": float(row["level"]),
        "benchmark_level": None if row["benchmark_level"] is None else float(row["benchmark_level"]),
        "holdings": holdings,
        "price_level": float(row["price_level"]),
        "price_benchmark_level": None if row["price_benchmark_level"] is None else float(row["price_benchmark_level"]),
        "price_holdings": holdings,
    }
