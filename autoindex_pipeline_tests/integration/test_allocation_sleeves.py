"""Every sleeve's part of every allocation lands in `allocation_sleeves` (one row per sleeve), on
SQLite and PostgreSQL, the same whether the history was computed at once or extended day by day."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from autoindex_pipeline.config import load_config
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.domain.sleeves import SLEEVES
from autoindex_pipeline.providers.registry import build_price_provider
from autoindex_pipeline.services.index import update_strategy
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.load import replace_prices, upsert_shares
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline.warehouse.read import read_table
from autoindex_pipeline_tests.conftest import write_config

FIRST, LAST = dt.date(2024, 10, 1), dt.date(2025, 3, 31)


def _warehouse(url: str, config, end: dt.date):
    engine = create_warehouse_engine(url)
    upgrade(engine)
    provider = build_price_provider(config, "sample")
    fetched = provider.fetch_prices(config.symbols, FIRST, end)
    replace_prices(engine, fetched.frame, config.symbols, FIRST, end)
    upsert_shares(engine, provider.fetch_shares(config.symbols, end).frame)
    return engine, provider


def _stored(engine, table: str) -> pd.DataFrame:
    frame = read_table(engine, table, {"strategy": "default"})
    frame["date"] = pd.to_datetime(frame["date"])
    return frame.drop(columns=["computed_at"]).sort_values([c for c in ("date", "symbol", "sleeve") if c in frame], ignore_index=True)


def test_each_sleeve_is_a_row_and_the_rows_add_up_to_the_weight(warehouse_url, tmp_path):
    config = load_config(write_config(tmp_path, prices={"start_date": FIRST.isoformat()}))
    engine, _ = _warehouse(warehouse_url, config, LAST)
    assert update_strategy(engine, config, "default").mode == "full"
    allocations, sleeves = _stored(engine, "allocations"), _stored(engine, "allocation_sleeves")
    assert len(allocations) > 0
    assert len(sleeves) == len(allocations) * len(SLEEVES)
    assert set(sleeves["sleeve"]) == set(SLEEVES)
    total = sleeves.groupby(["date", "symbol"])["contribution"].sum().reset_index()
    merged = allocations.merge(total, on=["date", "symbol"], validate="one_to_one")
    np.testing.assert_allclose(merged["contribution"], merged["weight"], rtol=0, atol=1e-12)
    # The wide columns `allocations` always had are the same numbers.
    for name in SLEEVES:
        long = sleeves[sleeves["sleeve"] == name].reset_index(drop=True)
        np.testing.assert_array_equal(long["contribution"].to_numpy(), allocations[f"{name}_weight"].to_numpy())
    # Every sleeve of a date sums to 1 over the assets it weighs (or is empty), its signal known.
    by_date = sleeves.groupby(["date", "sleeve"])["sleeve_weight"].sum()
    assert np.all(np.isclose(by_date, 1.0, atol=1e-12) | (by_date == 0))
    assert sleeves.loc[sleeves["sleeve"] == "momentum", "signal"].notna().all()


def test_day_by_day_extension_stores_the_same_sleeve_rows_as_a_full_run(warehouse_url, tmp_path):
    config = load_config(write_config(tmp_path, prices={"start_date": FIRST.isoformat()}))
    sessions = sessions_between(FIRST, LAST, config.prices.calendar)
    cut = sessions[-6].date()
    engine, provider = _warehouse(warehouse_url, config, cut)
    assert update_strategy(engine, config, "default").mode == "full"
    for day in sessions[sessions > pd.Timestamp(cut)].date:
        replace_prices(engine, provider.fetch_prices(config.symbols, day, day).frame, config.symbols, day, day)
        upsert_shares(engine, provider.fetch_shares(config.symbols, day).frame)
        assert update_strategy(engine, config, "default").mode == "incremental"
    extended = _stored(engine, "allocation_sleeves")

    (tmp_path / "full").mkdir()
    full_config = load_config(write_config(tmp_path / "full", prices={"start_date": FIRST.isoformat()}))
    full_engine, _ = _warehouse(f"sqlite:///{tmp_path / 'full' / 'wh.sqlite'}", full_config, LAST)
    assert update_strategy(full_engine, full_config, "default").mode == "full"
    full = _stored(full_engine, "allocation_sleeves")
    assert extended["date"].max() > pd.Timestamp(cut)  # a rebalance happened while extending
    pd.testing.assert_frame_equal(extended, full, check_exact=False, rtol=0, atol=1e-12)
