"""Writes into a scope that holds nothing yet, on both backends: the price revisions of a first
load take a shorter path (``revisions._first_write``: one plain INSERT ... SELECT) that must store
exactly what the general path stores, and must not be taken when a revision at the same moment
could collide; the shares upsert (COPY + one INSERT ... ON CONFLICT on PostgreSQL) stores what
the row-by-row upsert stored."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from autoindex_pipeline.warehouse import load, read, revisions, schema
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline.warehouse.revisions import read_price_revisions

T1 = dt.datetime(2024, 2, 1, 22, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2024, 2, 2, 22, 0, 0, 250000, tzinfo=dt.UTC)
START, END = dt.date(2024, 1, 1), dt.date(2024, 1, 12)


@pytest.fixture
def engine(warehouse_url):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    return engine


@pytest.fixture
def first_writes(monkeypatch):
    """What each ``_first_write`` decision answered, in order."""
    answers: list[bool] = []
    original = revisions._first_write

    def spy(*args, **kwargs):
        answers.append(original(*args, **kwargs))
        return answers[-1]

    monkeypatch.setattr(revisions, "_first_write", spy)
    return answers


def _prices(symbols=("AAA", "BBB"), periods=10):
    dates = pd.bdate_range(START, periods=periods)
    frame = pd.MultiIndex.from_product([list(symbols), dates], names=["symbol", "date"]).to_frame(index=False)
    close = 50 + np.arange(len(frame), dtype=float) / 8
    frame["open"], frame["close"] = close, close
    frame["high"], frame["low"] = close + 1, close - 1
    frame["volume"] = 1e6
    frame.loc[1, "volume"] = np.nan  # a missing value stays NULL in the revision too
    frame["source"] = "test"
    return frame


def _expected_revisions(frame: pd.DataFrame, at: dt.datetime) -> pd.DataFrame:
    """Every delivered row as a revision recorded at ``at``: what the general path stores for
    keys that were never stored."""
    out = frame.assign(recorded_at=pd.Timestamp(at), adj_close=np.nan, withdrawn=False)
    columns = [c.name for c in schema.price_revisions.columns]
    out = out.loc[:, columns].sort_values(["symbol", "date", "recorded_at"]).reset_index(drop=True)
    out["date"] = out["date"].astype("datetime64[ns]")
    return out


def _compare(stored: pd.DataFrame, expected: pd.DataFrame) -> None:
    stored = stored.loc[:, expected.columns].reset_index(drop=True)
    # An all-NULL column reads back as None objects.
    stored = stored.astype({c: float for c in ("open", "high", "low", "close", "volume", "adj_close")})
    pd.testing.assert_frame_equal(stored, expected, check_dtype=False)


def test_a_first_load_stores_every_row_as_a_revision_by_the_short_path(engine, first_writes):
    frame = _prices()
    written = load.replace_prices(engine, frame, ["AAA", "BBB"], START, END, ingested_at=T1)
    assert first_writes == [True]
    assert written.revisions == len(frame)
    _compare(read_price_revisions(engine), _expected_revisions(frame, T1))
    # Another symbol's first load beside stored history: short path again, only its rows.
    more = _prices(("CCC",))
    assert load.replace_prices(engine, more, ["CCC"], START, END, ingested_at=T2).revisions == len(more)
    assert first_writes == [True, True]
    _compare(read_price_revisions(engine, ["CCC"]), _expected_revisions(more, T2))
    # A re-delivery of stored keys goes the general way, and adds nothing when nothing changed.
    assert load.replace_prices(engine, frame, ["AAA", "BBB"], START, END).revisions == 0
    assert first_writes == [True, True, False]


def test_a_first_load_and_the_general_path_store_the_same_revisions(engine, first_writes):
    """The same delivery through both paths: once into an empty scope, once into a scope whose
    one stored row (delivered again unchanged) forces the general path."""
    frame = _prices(("AAA",))
    load.replace_prices(engine, frame, ["AAA"], START, END, ingested_at=T1)
    other = _prices(("BBB",))
    day = other["date"].iloc[0].date()
    load.replace_prices(engine, other.iloc[[0]], ["BBB"], day, day, ingested_at=T1 - dt.timedelta(days=1))
    assert load.replace_prices(engine, other, ["BBB"], START, END, ingested_at=T1).revisions == len(other) - 1
    assert first_writes == [True, True, False]
    short = read_price_revisions(engine, ["AAA"]).drop(columns="symbol")
    general = read_price_revisions(engine, ["BBB"])
    general = general[general["recorded_at"] == pd.Timestamp(T1)].drop(columns="symbol").reset_index(drop=True)
    expected = _expected_revisions(other.iloc[1:], T1).drop(columns="symbol")
    _compare(general, expected)
    _compare(short.iloc[1:].reset_index(drop=True), expected)


def test_an_empty_scope_with_revisions_at_the_same_moment_takes_the_general_path(engine, first_writes):
    """Withdrawn at T2, delivered again at T2 (a caller that fixes ``ingested_at``): the scope
    holds no price, but the withdrawals are revisions at that moment, which the re-delivery
    replaces (a plain INSERT would die on the primary key)."""
    frame = _prices()
    load.replace_prices(engine, frame, ["AAA", "BBB"], START, END, ingested_at=T1)
    assert load.replace_prices(engine, frame.iloc[:0], ["AAA", "BBB"], START, END, ingested_at=T2).revisions == len(frame)
    assert read.read_prices(engine).empty
    assert load.replace_prices(engine, frame, ["AAA", "BBB"], START, END, ingested_at=T2).revisions == len(frame)
    assert first_writes == [True, False, False]
    at_t2 = read_price_revisions(engine)
    at_t2 = at_t2[at_t2["recorded_at"] == pd.Timestamp(T2)]
    assert len(at_t2) == len(frame) and not at_t2["withdrawn"].any()
    pd.testing.assert_frame_equal(read.read_closes(engine, as_of=T2), read.read_closes(engine))


def test_the_shares_upsert_stores_values_and_moments_exactly(engine):
    first = pd.DataFrame({"symbol": ["AAA", "AAA", "BBB"], "date": pd.to_datetime(["2024-01-02", "2024-04-01", "2024-01-02"]),
                          "shares_outstanding": [100.0, 1.0 / 3.0, 2.5e12], "source": "test"})
    assert load.upsert_shares(engine, first, ingested_at=T1).rows_written == 3
    later = pd.DataFrame({"symbol": ["AAA", "BBB"], "date": pd.to_datetime(["2024-04-01", "2024-01-02"]),
                          "shares_outstanding": [0.1 + 0.2, 2.5e12], "source": ["test", "other"]})
    assert load.upsert_shares(engine, later, ingested_at=T2).rows_written == 2
    table = schema.market_cap_data
    with engine.connect() as conn:
        stored = conn.execute(sa.select(table).order_by(table.c.symbol, table.c.date)).all()
    got = [(r.symbol, r.date, r.shares_outstanding, r.source, pd.Timestamp(r.ingested_at).tz_localize(None)
            if pd.Timestamp(r.ingested_at).tzinfo is None else pd.Timestamp(r.ingested_at).tz_convert(None)) for r in stored]
    naive = [pd.Timestamp(t).tz_convert(None) for t in (T1, T2)]
    assert got == [
        ("AAA", dt.date(2024, 1, 2), 100.0, "test", naive[0]),
        ("AAA", dt.date(2024, 4, 1), 0.1 + 0.2, "test", naive[1]),
        ("BBB", dt.date(2024, 1, 2), 2.5e12, "other", naive[1]),
    ]
