"""Materialize the real price assets in a real Dagster instance, on SQLite and on PostgreSQL
(both Dagster's own storage and the warehouse)."""

from pathlib import Path

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.cli.runner import run_prices_job
from autoindex_pipeline.config import load_config
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.read import read_prices, table_counts
from autoindex_pipeline_tests.conftest import TEST_SYMBOLS, write_config

REPO_ROOT = Path(__file__).resolve().parents[2]
START, END = pd.Timestamp("2025-05-01"), pd.Timestamp("2025-06-30")


def _engine(config):
    return create_warehouse_engine(config.database_url())


def test_backfill_of_a_range_is_one_run_with_every_partition_materialized(stack):
    path, config, instance = stack
    result = run_prices_job(config, path, START, END, instance=instance)
    assert result.success
    sessions = sessions_between(START, END)
    assert len(instance.get_runs()) == 1
    materialized = instance.get_materialized_partitions(dg.AssetKey("prices"))
    assert materialized == {d.strftime("%Y-%m-%d") for d in sessions}
    assert "2025-05-26" not in materialized  # Memorial Day is no partition
    prices = read_prices(_engine(config))
    assert set(prices["symbol"]) <= set(TEST_SYMBOLS + ["SPY"])
    assert prices["date"].isin(sessions).all()
    # BA's yearly halt starts 2025-05-12: five sessions without a row, the rest complete.
    ba = prices[prices["symbol"] == "BA"]
    assert len(ba) == len(sessions) - 5
    counts = table_counts(_engine(config))
    assert counts["assets"] == len(config.symbols)
    assert counts["market_cap_data"] > 0
    meta = result.asset_materializations_for_node("prices")[0].metadata
    assert meta["dagster/row_count"].value == len(prices)
    assert meta["provider_success_rate"].value == 1.0


def test_rerunning_any_partition_changes_no_row_count(stack):
    path, config, instance = stack
    run_prices_job(config, path, START, END, instance=instance)
    before = table_counts(_engine(config))
    stored_before = read_prices(_engine(config))
    # The whole range, then a single partition inside it.
    assert run_prices_job(config, path, START, END, instance=instance).success
    assert run_prices_job(config, path, pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-02"), instance=instance).success
    after = table_counts(_engine(config))
    # provider_calls is a run log (one row per fetching run, for provider_health): two more runs.
    assert after.pop("provider_calls") == before.pop("provider_calls") + 2
    assert after == before
    stored_after = read_prices(_engine(config))
    cols = ["symbol", "date", "open", "high", "low", "close", "volume"]
    pd.testing.assert_frame_equal(stored_before[cols], stored_after[cols])


def test_targeted_refresh_rewrites_only_the_named_symbols(stack):
    path, config, instance = stack
    run_prices_job(config, path, START, END, instance=instance)
    engine = _engine(config)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE prices SET close = -1, source = 'corrupt' WHERE symbol IN ('AAPL', 'MSFT')"))
    result = run_prices_job(config, path, START, END, symbols=["AAPL"], select=["prices"], instance=instance)
    assert result.success
    prices = read_prices(engine)
    assert (prices.loc[prices["symbol"] == "AAPL", "close"] > 0).all()
    assert (prices.loc[prices["symbol"] == "MSFT", "source"] == "corrupt").all()  # untouched


def test_targeted_refresh_of_an_unknown_symbol_fails_clearly(stack):
    path, config, instance = stack
    result = run_prices_job(config, path, START, END, symbols=["NOPE"], select=["prices"], instance=instance)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "outside the universe: NOPE" in failure.event_specific_data.error.message


def test_malformed_files_fail_the_run_and_keep_stored_rows(stack, tmp_path):
    path, config, instance = stack
    assert run_prices_job(config, path, START, END, instance=instance).success
    before = read_prices(_engine(config))
    bad = tmp_path / "bad_prices.csv"
    bad.write_text("symbol,date,open,high,low,close,volume\nAAPL,2025-05-01,1,2,0.5,1.5,100\nAAPL,2025-05-02,1,2,0.5,abc,100\n")
    files_config = write_config(tmp_path, providers={"prices": "files", "files": {"prices_path": str(bad)}})
    result = run_prices_job(load_config(files_config), str(files_config), START, END, select=["prices"], instance=instance)
    assert not result.success
    message = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error.message
    assert "bad_prices.csv" in message and "line 3" in message and "close" in message
    pd.testing.assert_frame_equal(before, read_prices(_engine(config)))


def test_files_provider_runs_the_pipeline_on_user_data(stack, tmp_path):
    path, config, instance = stack
    sessions = sessions_between("2025-06-02", "2025-06-06")
    frame = pd.DataFrame(
        [(sym, d.date(), 10.0, 11.0, 9.0, 10.5, 1000) for sym in ("AAPL", "SPY") for d in sessions],
        columns=["symbol", "date", "open", "high", "low", "close", "volume"],
    )
    prices_file = tmp_path / "mine.parquet"
    frame.to_parquet(prices_file)
    files_config = write_config(tmp_path, providers={"prices": "files", "shares": "sample", "files": {"prices_path": str(prices_file)}})
    cfg = load_config(files_config)
    result = run_prices_job(cfg, str(files_config), sessions[0], sessions[-1], instance=instance)
    assert result.success
    stored = read_prices(_engine(cfg))
    assert len(stored) == 10 and set(stored["source"]) == {"files"}
    meta = result.asset_materializations_for_node("prices")[0].metadata
    assert meta["symbols_failed"].value == len(cfg.symbols) - 2  # the rest are "not in files"

