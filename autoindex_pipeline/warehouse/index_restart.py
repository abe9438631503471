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
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.revisions import bind_moment, utc_moment

# The audit action `overrides.remove_override` writes: a removed override leaves no other trace.
REMOVED_OVERRIDE = "override_removed"


@dataclass(frozen=True)
class InputChanges:
    """What an index update needs to know about its inputs, from one list of them."""

    changed_from: pd.Timestamp | None
    """The earliest date any input recorded after the moment asked about is dated on; None:
    nothing was recorded since (or no moment was given)."""
    newest: dt.datetime | None
    """When the newest input was recorded (UTC; None: nothing stored): the watermark a
    computation reading the inputs now saw, as every query asking about a later moment counts
    the same inputs."""


def _input_sources(with_sentiment: bool) -> list[tuple[sa.ColumnElement, sa.ColumnElement, sa.ColumnElement | None]]:
    """(date, recorded moment, condition) of every index input: a price written or changed, a
    price revision (a withdrawn row leaves only its ``withdrawn`` revision), a shares figure, an
    override set, an override removed (only the audit trail keeps it), a corporate action (by
    ex-date; a changed ratio or amount is a new first_seen) and, ``with_sentiment``, a sentiment day."""
    prices, revisions, shares = schema.prices, schema.price_revisions, schema.market_cap_data
    overrides, audit, events = schema.price_overrides, schema.quality_audit, schema.corporate_actions
    sources = [
        (prices.c.date, prices.c.ingested_at, None),
        (revisions.c.date, revisions.c.recorded_at, None),
        (shares.c.date, shares.c.ingested_at, None),
        (overrides.c.date, overrides.c.created_at, None),
        (audit.c.date_from, audit.c.at, audit.c.action == REMOVED_OVERRIDE),
        (events.c.ex_date, events.c.first_seen, None),
    ]
    if with_sentiment:
        sentiment = schema.sentiment_daily
        sources.append((sentiment.c.date, sentiment.c.computed_at, None))
    return sources


def input_changes(engine: sa.Engine, since: dt.datetime | None, with_sentiment: bool = False) -> InputChanges:
    """The inputs recorded after ``since`` (see :func:`_input_sources`) and the newest moment
    any was recorded, read from the same list so an update's "is anything new" and "from which
    date" can never disagree, and its stored watermark covers exactly what it counts.

    Every input is causal (cleaning fills forward, signals read windows ending at their date,
    shares are point in time, split factors multiply forward), so nothing dated before
    ``changed_from`` changed."""
    sources = _input_sources(with_sentiment)
    with engine.connect() as conn:
        # The newest moment first: an input recorded between the two reads is counted as a
        # change now and, being newer than the watermark, seen again by the next update.
        moments = [conn.execute(sa.select(sa.func.max(moment)).where(*_where(condition))).scalar()
                   for _, moment, condition in sources]
        dates = []
        if since is not None:
            bound = bind_moment(engine, since)
            dates = [conn.execute(sa.select(sa.func.min(date)).where(moment > bound, *_where(condition))).scalar()
                     for date, moment, condition in sources]
    known = [pd.Timestamp(d).normalize() for d in dates if d is not None]
    recorded = [utc_moment(m) for m in moments if m is not None]
    return InputChanges(min(known) if known else None, max(recorded) if recorded else None)


def _where(condition: sa.ColumnElement | None) -> tuple[sa.ColumnElement, ...]:
    return () if condition is None else (condition,)


def earliest_input_change(engine: sa.Engine, since: dt.datetime, with_sentiment: bool = False) -> pd.Timestamp | None:
    """The earliest session date any index input recorded after ``since`` is dated on (None:
    nothing was recorded since); :func:`input_changes`."""
    return input_changes(engine, since, with_sentiment).changed_from


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
