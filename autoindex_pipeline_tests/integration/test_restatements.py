"""A provider that split-adjusts its history (as TwelveData does): the same history fetched day by
day across a split, or in one piece after it, is stored identically at the raw scale and gives the
same index; a re-fetch that restates the stored rows as a split-adjusted history is detected and
converted back, and a provider not declared as adjusting is reported with the split-like ratio.
On SQLite and PostgreSQL, without Dagster (the prices asset calls the same service)."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from autoindex_pipeline.config import load_config
from autoindex_pipeline.domain import corporate_actions as ca
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.providers.prices.sample import SampleProvider
from autoindex_pipeline.services.index import update_strategy
from autoindex_pipeline.services.restatements import prepare_delivery
from autoindex_pipeline.warehouse import load, schema
from autoindex_pipeline.warehouse.corporate_actions import upsert_corporate_actions
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline.warehouse.read import read_prices
from autoindex_pipeline_tests.conftest import write_config

# No other sample fault in this window and universe: only NVDA's 2:1 split of 2025-03-17.
SYMBOLS = ["AAPL", "MSFT", "XOM", "GLD", "QQQ", "NVDA", "MMM"]
START, END = pd.Timestamp("2024-10-01"), pd.Timestamp("2025-04-30")
SPLIT = pd.Timestamp("2025-03-17")


class SplitAdjustingProvider:
    """The sample's bars as a split-adjusting provider serves them when asked on ``fetched_on``:
    every bar before a split that has happened by then divided by its ratio (volume times it)."""

    name = "adjusting"
    split_adjusted = True

    def __init__(self, sample: SampleProvider, events: pd.DataFrame) -> None:
        self.sample, self.events = sample, events

    def fetch(self, symbols, start, end, fetched_on) -> pd.DataFrame:
        frame = self.sample.fetch_prices(symbols, start, end).frame
        happened = self.events[self.events["ex_date"] <= pd.Timestamp(fetched_on)]
        factor = ca.later_split_factor(happened, frame["symbol"], frame["date"])
        for column in ("open", "high", "low", "close"):
            frame[column] = frame[column] / factor
        frame["volume"] = frame["volume"] * factor
        return frame


@pytest.fixture
def setup(warehouse_url, tmp_path):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    config = load_config(write_config(tmp_path, prices={"start_date": str(START.date())}, universe={"symbols": SYMBOLS}))
    sample = SampleProvider(config.universe_frame, seed=config.providers.sample.seed)
    events = ca.normalise_events(sample.fetch_corporate_actions(config.symbols, START.date(), END.date()).frame)
    assert events["ex_date"].tolist() == [SPLIT]
    upsert_corporate_actions(engine, events)
    load.upsert_shares(engine, sample.fetch_shares(config.symbols, END.date()).frame)
    return engine, config, SplitAdjustingProvider(sample, events)


def _ingest(engine, config, provider, start, end, fetched_on):
    delivered = provider.fetch(config.symbols, start.date(), end.date(), fetched_on)
    prepared = prepare_delivery(engine, delivered, split_adjusted=provider.split_adjusted, fetched_on=fetched_on)
    load.replace_prices(engine, prepared.frame, config.symbols, start.date(), end.date())
    return prepared


def _levels(engine):
    with engine.connect() as conn:
        rows = conn.execute(sa.select(schema.index_values.c.date, schema.index_values.c.level, schema.index_values.c.price_level)
                            .order_by(schema.index_values.c.date)).all()
    return pd.DataFrame(rows, columns=["date", "level", "price_level"])


def _clear(engine):
    with engine.begin() as conn:
        for table in ("prices", "index_values", "allocations", "allocation_sleeves", "risk_metrics", "index_state"):
            conn.execute(schema.metadata.tables[table].delete())


def test_day_by_day_across_a_split_equals_one_piece_after_it(setup):
    engine, config, provider = setup
    sessions = sessions_between(START, END)
    around = sessions[(sessions >= SPLIT - pd.Timedelta(days=14)) & (sessions <= SPLIT + pd.Timedelta(days=14))]

    # Day by day: the history before the window in one piece as known then, then each session
    # on its own evening, the index updated after each (incremental from the second one on).
    _ingest(engine, config, provider, sessions[0], around[0] - pd.Timedelta(days=1), around[0] - pd.Timedelta(days=1))
    modes = []
    for day in around:
        prepared = _ingest(engine, config, provider, day, day, day)
        assert not prepared.unadjusted and prepared.restated.empty  # a day's bar is never adjusted yet
        modes.append(update_strategy(engine, config, "default").mode)
    assert modes[0] == "full" and set(modes[1:]) == {"incremental"}
    daily_prices = read_prices(engine, symbols=config.symbols)
    daily_index = _levels(engine)

    # A re-fetch of everything now returns NVDA's bars before the split at half their price: the
    # provider restated them. Detected, converted back: nothing changes in the warehouse.
    prepared = _ingest(engine, config, provider, sessions[0], around[-1], END)
    assert prepared.unadjusted and prepared.changes.empty
    restated = prepared.restated.set_index("symbol")
    assert restated.index.tolist() == ["NVDA"] and restated.loc["NVDA", "split_like"] == 2.0
    assert restated.loc["NVDA", "median_ratio"] == pytest.approx(0.5, rel=1e-3)
    assert restated.loc["NVDA", "last_date"] < SPLIT
    assert "split-adjusted history" in prepared.notes()[0] and "the stored rows stand" in prepared.notes()[0]
    pd.testing.assert_frame_equal(read_prices(engine, symbols=config.symbols).drop(columns="ingested_at"),
                                  daily_prices.drop(columns="ingested_at"), rtol=1e-12, atol=0)

    # One piece after the split, into an empty warehouse: the same rows and the same index.
    _clear(engine)
    _ingest(engine, config, provider, sessions[0], around[-1], END)
    assert update_strategy(engine, config, "default").mode == "full"
    pd.testing.assert_frame_equal(read_prices(engine, symbols=config.symbols).drop(columns="ingested_at"),
                                  daily_prices.drop(columns="ingested_at"), rtol=1e-12, atol=0)
    one_piece = _levels(engine)
    assert one_piece["date"].tolist() == daily_index["date"].tolist()
    assert np.max(np.abs(one_piece["level"] / daily_index["level"] - 1)) < 1e-12
    assert np.max(np.abs(one_piece["price_level"] / daily_index["price_level"] - 1)) < 1e-12
    # And the split did not move the index: NVDA's raw close halves, the index does not.
    levels = one_piece.set_index("date")["level"]
    assert abs(levels.loc[SPLIT.date()] / levels.shift(1).loc[SPLIT.date()] - 1) < 0.05


def test_a_provider_not_declared_as_adjusting_is_reported_with_the_ratio(setup):
    engine, config, provider = setup
    sessions = sessions_between(START, END)
    before = sessions[sessions < SPLIT]
    _ingest(engine, config, provider, before[0], before[-1], before[-1])
    provider.split_adjusted = False  # the same series, from a provider we were not told adjusts
    prepared = _ingest(engine, config, provider, before[0], before[-1], END)
    assert not prepared.unadjusted
    changed = prepared.changes.set_index("symbol")
    assert changed.index.tolist() == ["NVDA"] and changed.loc["NVDA", "split_like"] == 2.0
    assert changed.loc["NVDA", "differing"] == len(before)
    assert "written as delivered" in prepared.notes()[0]
    assert dt.date(2025, 3, 14) == changed.loc["NVDA", "last_date"].date()
