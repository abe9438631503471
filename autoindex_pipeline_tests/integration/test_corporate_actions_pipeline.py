"""Corporate actions through the whole pipeline on SQLite and PostgreSQL: the sample's NVDA splits
are recorded before its prices and no longer move the index, dividends make the total-return level
beat the price-return one, both series are published with their own figures, an independent
adjustment of the stored closes reproduces the stored levels, and an event learnt late recomputes
the history from its ex-date."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.cli.runner import run_index_job, run_prices_job
from autoindex_pipeline.config import load_config
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.domain.cleaning import clean_closes, daily_returns, to_wide
from autoindex_pipeline.domain.index import compute_index
from autoindex_pipeline.services.index import update_strategy
from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.corporate_actions import read_corporate_actions, upsert_corporate_actions
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.read import read_closes, read_table
from autoindex_pipeline_tests.conftest import TEST_SYMBOLS, write_config

START, END = pd.Timestamp("2024-10-01"), pd.Timestamp("2025-10-31")
SPLITS = [pd.Timestamp("2025-03-17"), pd.Timestamp("2025-09-15")]  # NVDA 2:1, then 1:2
PAYER = "ABBV"  # pays the sample's quarterly dividends
# JPM's yearly bad print (08-12) is refused and fails the prices run: another test's matter.
SYMBOLS = [s for s in TEST_SYMBOLS if s != "JPM"]


def _config(tmp_path, symbols):
    path = write_config(tmp_path, prices={"start_date": str(START.date())}, universe={"symbols": symbols})
    return str(path), load_config(path)


def _index(engine):
    frame = read_table(engine, "index_values", {"strategy": "default"})
    frame["date"] = pd.to_datetime(frame["date"])
    return frame.sort_values("date").reset_index(drop=True).set_index("date")


def _independent_returns(engine, config, sessions):
    """r_TR and r_PR from the stored closes and events, written out here without the domain's
    adjustment code (split factor by a cumulative product per symbol, dividends on ex-dates)."""
    raw = to_wide(read_closes(engine, symbols=config.symbols, start=sessions[0], end=sessions[-1]), sessions)
    raw = raw.reindex(columns=config.symbols)
    events = read_corporate_actions(engine)
    factor = pd.DataFrame(1.0, index=sessions, columns=raw.columns)
    dividend = pd.DataFrame(0.0, index=sessions, columns=raw.columns)
    for row in events.itertuples():
        if row.kind == "split":
            factor.loc[factor.index >= row.ex_date, row.symbol] *= row.ratio
    for row in events.itertuples():
        if row.kind == "dividend" and row.ex_date in dividend.index:
            dividend.loc[row.ex_date, row.symbol] += row.amount * factor.loc[row.ex_date, row.symbol]
    adjusted = clean_closes(raw * factor, 2)
    total = ((adjusted + dividend) / adjusted.shift(1) - 1).clip(-0.5, 0.5)
    return total, daily_returns(adjusted, -0.5, 0.5), daily_returns(clean_closes(raw, 2), -0.5, 0.5)


@pytest.mark.heavy(20)
def test_nvda_splits_do_not_move_the_index_and_dividends_separate_the_two_levels(stack, tmp_path):
    _, _, instance = stack
    path, config = _config(tmp_path, [*SYMBOLS, PAYER])
    assert run_prices_job(config, path, START, END, instance=instance).success
    assert run_index_job(config, path, instance=instance).success
    engine = create_warehouse_engine(config.database_url())

    events = read_corporate_actions(engine)
    splits = events[events["kind"] == "split"]
    assert set(splits["symbol"]) == {"NVDA"} and set(SPLITS) <= set(splits["ex_date"])
    assert set(events.loc[events["kind"] == "dividend", "symbol"]) == {PAYER}
    # The split sessions' NVDA rows are stored, not refused: the split is known, so it is no fault.
    stored = read_closes(engine, symbols=["NVDA"], start=SPLITS[0], end=SPLITS[0])
    assert len(stored) == 1
    assert read_table(engine, "price_rejections").empty

    index = _index(engine)
    sessions = sessions_between(START - pd.Timedelta(days=10), END)
    total, price, unadjusted = _independent_returns(engine, config, sessions)
    allocations = read_table(engine, "allocations", {"strategy": "default"})
    allocations["date"] = pd.to_datetime(allocations["date"])
    d0 = index.index[0]
    tr, _ = compute_index(total, allocations, d0, end=index.index[-1])
    pr, _ = compute_index(price, allocations, d0, end=index.index[-1])
    raw_index, _ = compute_index(unadjusted, allocations, d0, end=index.index[-1])
    np.testing.assert_allclose(index["level"].to_numpy(), tr["level"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(index["price_level"].to_numpy(), pr["level"].to_numpy(), rtol=1e-9)
    # On the split sessions the index moved with the market, not by half of NVDA's weight as the
    # raw closes would have it.
    raw_moves = raw_index.set_index("date")["daily_return"]
    for day in SPLITS:
        assert abs(index.loc[day, "daily_return"] - raw_moves.loc[day]) > 0.01
        assert abs(index.loc[day, "daily_return"]) < 0.05
    # Dividends: the total return beats the price return; without them the two would be equal.
    assert index["price_level"].iloc[-1] < index["level"].iloc[-1]
    assert (index["price_turnover"].fillna(0) >= 0).all() and index["price_benchmark_level"].iloc[0] == 100.0
    metrics = read_table(engine, "risk_metrics", {"strategy": "default"}).sort_values("date")
    assert np.isfinite(metrics["price_sharpe"].iloc[-1]) and metrics["price_total_return"].iloc[-1] < metrics["total_return"].iloc[-1]
    np.testing.assert_allclose(metrics["price_total_return"].iloc[-1], index["price_level"].iloc[-1] / 100 - 1, rtol=1e-12)

    # The first fetch asked for everything since prices.start_date; the next run only for the
    # last 31 days (TwelveData bills these calls per symbol), and changes nothing stored.
    first = _corporate_actions_range(instance)
    assert first.startswith(str(START.date()))
    assert run_prices_job(config, path, END, END, instance=instance).success
    later = _corporate_actions_range(instance)
    assert pd.Timestamp(later.split("..")[1]) - pd.Timestamp(later.split("..")[0]) == pd.Timedelta(days=31)
    pd.testing.assert_frame_equal(read_corporate_actions(engine), events)


def _corporate_actions_range(instance) -> str:
    import dagster as dg

    event = instance.get_latest_materialization_event(dg.AssetKey("corporate_actions"))
    return event.asset_materialization.metadata["range"].value


@pytest.mark.heavy(30)
def test_without_dividends_the_two_levels_are_equal_and_a_late_dividend_recomputes(stack, tmp_path):
    _, _, instance = stack
    path, config = _config(tmp_path, SYMBOLS)  # NVDA's splits only: no dividend
    assert run_prices_job(config, path, START, END, instance=instance).success
    assert run_index_job(config, path, instance=instance).success
    engine = create_warehouse_engine(config.database_url())
    index = _index(engine)
    assert (read_corporate_actions(engine)["kind"] == "split").all()
    # Splits alone: price and total return are the same numbers, bit for bit.
    assert index["price_level"].tolist() == index["level"].tolist()
    assert index["price_turnover"].fillna(-1).tolist() == index["turnover"].fillna(-1).tolist()
    before = index["level"].copy()

    # A dividend of AAPL learnt now, with an ex-date in the computed history: the next update
    # recomputes from the last rebalance before the ex-date (services/index_restart.py) and the
    # total return moves from the ex-date on.
    ex_date = pd.Timestamp("2025-05-12")
    upsert_corporate_actions(engine, pd.DataFrame({"symbol": ["AAPL"], "ex_date": [ex_date], "kind": ["dividend"],
                                                   "amount": [2.0], "currency": ["USD"], "source": ["test"]}),
                             now=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    report = update_strategy(engine, config, "default")
    assert report.mode == "restart at the rebalance of 2025-05-05 (inputs changed from 2025-05-12)"
    after = _index(engine)
    unchanged = after.index < ex_date
    assert after.loc[unchanged, "level"].tolist() == before[unchanged].tolist()
    assert (after.loc[~unchanged, "level"] > before[~unchanged]).all()
    # The price return ignores the dividend itself; only the targets decided from the ex-date on
    # (their signals read the total return) can move it.
    through = after.index <= ex_date
    assert after.loc[through, "price_level"].tolist() == before[through].tolist()
    assert update_strategy(engine, config, "default").mode == "up to date"
    # A state stored before the price-return series existed cannot be extended: one full run.
    with engine.begin() as conn:
        conn.execute(schema.index_state.update().values(price_holdings=None, price_level=None))
    assert update_strategy(engine, config, "default").mode == "full (no stored price-return state)"
    assert _index(engine)["price_level"].tolist() == after["price_level"].tolist()


def test_the_range_ends_at_the_runs_last_session_not_the_wall_clock(stack):
    from autoindex_pipeline.cli.runner import run_job
    from autoindex_pipeline.defs.prices.definitions import PRICES_JOB
    from autoindex_pipeline.domain.calendar import last_closed_session

    path, config, instance = stack
    backfill = run_prices_job(config, path, pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-06"),
                              instance=instance, select=["corporate_actions"])
    assert backfill.success
    metadata = backfill.asset_materializations_for_node("corporate_actions")[0].metadata
    assert metadata["range"].value == f"{config.prices.start_date}..2025-06-06"
    # A run over no partition: the last session closed when the run was created.
    unpartitioned = run_job(config, path, PRICES_JOB, select=["corporate_actions"], instance=instance)
    assert unpartitioned.success
    created = pd.Timestamp(instance.get_run_record_by_id(unpartitioned.run_id).create_timestamp)
    end = last_closed_session(created, calendar=config.prices.calendar).date()
    metadata = unpartitioned.asset_materializations_for_node("corporate_actions")[0].metadata
    assert metadata["range"].value.endswith(f"..{end}")
