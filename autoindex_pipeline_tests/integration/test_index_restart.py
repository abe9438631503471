"""A correction inside the computed history restarts the index update at the last stored
rebalance before it (services/index_restart.py), on SQLite and PostgreSQL: the result equals a
full recompute (levels, returns, allocations, metrics of both series) to 1e-9, and only the
sessions after that rebalance were recomputed (counted, not timed)."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from autoindex_pipeline.config import load_config
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.services.index import update_strategy
from autoindex_pipeline.warehouse import load, schema
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.gate import ABSENCE_KINDS, record_absence
from autoindex_pipeline.warehouse.index_restart import earliest_input_change
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline_tests.conftest import write_config
from autoindex_pipeline_tests.integration.sample_history import store_sample_history

SYMBOLS = ["AAPL", "MSFT", "XOM", "GLD", "QQQ", "KO", "MMM"]
START, END = pd.Timestamp("2024-10-01"), pd.Timestamp("2025-02-28")
T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)  # events and shares recorded
T1 = dt.datetime(2025, 3, 2, 12, 0, tzinfo=dt.UTC)  # the prices delivered
T2 = dt.datetime(2025, 3, 3, 12, 0, tzinfo=dt.UTC)  # a correction
CORRECTED = ("AAPL", pd.Timestamp("2025-01-15"))  # a Wednesday: weekly rebalances before it
SERIES = ("level", "daily_return", "turnover", "cost", "benchmark_level", "benchmark_return",
          "price_level", "price_daily_return", "price_turnover", "price_cost", "price_benchmark_level",
          "price_benchmark_return")


@pytest.fixture
def setup(warehouse_url, tmp_path):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    # Two strategies: the weekly default and a monthly one with costs.
    config = load_config(write_config(
        tmp_path, prices={"start_date": str(START.date())}, universe={"symbols": SYMBOLS},
        strategies={"monthly": {"rebalance_frequency": "monthly", "transaction_cost_bps": 10}},
    ))
    prices = store_sample_history(engine, config, START, END, known_at=T0, prices_at=T1)
    for name in config.strategies:
        assert update_strategy(engine, config, name).mode == "full"
    return engine, config, prices


def _rows(engine, table_name: str, name: str) -> pd.DataFrame:
    table = schema.metadata.tables[table_name]
    keys = [c for c in ("date", "symbol", "sleeve") if c in table.c]
    with engine.connect() as conn:
        frame = pd.read_sql(sa.select(table).where(table.c.strategy == name).order_by(*(table.c[k] for k in keys)), conn)
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def _correct(engine, prices, factor: float = 1.08, day: pd.Timestamp = CORRECTED[1], at: dt.datetime = T2) -> None:
    symbol = CORRECTED[0]
    row = prices[(prices["symbol"] == symbol) & (prices["date"] == day)].copy()
    row["close"] = row["close"] * factor
    load.replace_prices(engine, row, [symbol], day.date(), day.date(), ingested_at=at)


def _forget(engine) -> None:
    with engine.begin() as conn:
        for table in ("index_state", "index_values", "allocations", "allocation_sleeves", "risk_metrics"):
            conn.execute(schema.metadata.tables[table].delete())


def _assert_close(restarted: pd.DataFrame, full: pd.DataFrame, columns) -> None:
    assert restarted["date"].tolist() == full["date"].tolist()
    for column in columns:
        left, right = restarted[column].to_numpy(dtype=float), full[column].to_numpy(dtype=float)
        assert (np.isnan(left) == np.isnan(right)).all(), column
        np.testing.assert_allclose(left, right, rtol=0, atol=1e-9, equal_nan=True, err_msg=column)


def test_a_correction_restarts_at_the_last_rebalance_before_it_and_equals_a_full_recompute(setup):
    engine, config, prices = setup
    day = CORRECTED[1]
    before = {name: _rows(engine, "index_values", name) for name in config.strategies}
    _correct(engine, prices)

    reports = {name: update_strategy(engine, config, name) for name in config.strategies}
    restarted = {name: {t: _rows(engine, t, name) for t in ("index_values", "allocations", "allocation_sleeves", "risk_metrics")}
                 for name in config.strategies}
    for name, report in reports.items():
        stored = before[name]
        rebalance = stored.loc[stored["is_rebalance"] & (stored["date"] < day) & (stored["date"] > stored["date"].min()), "date"].max()
        assert report.mode == f"restart at the rebalance of {rebalance.date()} (inputs changed from {day.date()})"
        # The restart path: only the sessions after that rebalance were computed and written;
        # the rows up to it are the stored ones, untouched (same computed_at).
        sessions = sessions_between(START, END)
        assert report.index_rows == len(sessions[sessions > rebalance]) < len(stored) - 20
        assert report.first_new_date == sessions[sessions > rebalance][0]
        now = restarted[name]["index_values"]
        kept = now["date"] <= rebalance
        assert now.loc[kept, "computed_at"].tolist() == stored.loc[stored["date"] <= rebalance, "computed_at"].tolist()
        assert (now.loc[~kept, "computed_at"] > stored["computed_at"].max()).all()
        assert not np.allclose(now.loc[now["date"] >= day, "level"], stored.loc[stored["date"] >= day, "level"])

    # The same inputs from the base date.
    _forget(engine)
    for name in config.strategies:
        assert update_strategy(engine, config, name).mode == "full"
        full = {t: _rows(engine, t, name) for t in ("index_values", "allocations", "allocation_sleeves", "risk_metrics")}
        mine = restarted[name]
        _assert_close(mine["index_values"], full["index_values"], SERIES)
        assert mine["index_values"]["is_rebalance"].tolist() == full["index_values"]["is_rebalance"].tolist()
        for table in ("allocations", "allocation_sleeves"):
            assert mine[table]["symbol"].tolist() == full[table]["symbol"].tolist()
            numeric = [c for c in full[table].columns if c not in ("strategy", "version", "date", "symbol", "sleeve", "computed_at")]
            _assert_close(mine[table], full[table], numeric)
        metrics = [c for c in full["risk_metrics"].columns if c not in ("strategy", "version", "date", "computed_at")]
        _assert_close(mine["risk_metrics"], full["risk_metrics"], metrics)
        # Point in time, as the restart assumes: no rebalance before the corrected day moved.
        first = before[name]
        unchanged = full["index_values"]["date"] < day
        assert full["index_values"].loc[unchanged, "level"].tolist() == first.loc[first["date"] < day, "level"].tolist()


def test_the_next_update_after_a_restart_is_incremental_and_a_second_correction_restarts_again(setup):
    engine, config, prices = setup
    _correct(engine, prices)
    assert update_strategy(engine, config, "default").mode.startswith("restart at the rebalance of")
    assert update_strategy(engine, config, "default").mode == "up to date"
    later = pd.Timestamp("2025-02-12")
    with engine.begin() as conn:  # a later correction, recorded after the restart's watermark
        conn.execute(sa.update(schema.prices).where(schema.prices.c.symbol == "MSFT", schema.prices.c.date == later.date())
                     .values(close=schema.prices.c.close * 0.97, ingested_at=dt.datetime.now(dt.UTC)))
    report = update_strategy(engine, config, "default")
    assert report.mode.startswith("restart at the rebalance of 2025-02-1") and report.mode.endswith("from 2025-02-12)")
    assert report.index_rows < 15


def test_a_change_before_the_first_rebalance_or_an_early_shares_figure_recomputes_in_full(setup):
    engine, config, prices = setup
    base = _rows(engine, "index_values", "default")["date"].min()
    # Shares recorded late for an old date move the market cap from that date: the restart
    # point must precede it, and no rebalance after the base date does.
    _correct(engine, prices)
    load.upsert_shares(engine, pd.DataFrame({"symbol": ["XOM"], "date": [base], "shares_outstanding": [1.0e12],
                                             "source": ["late"]}), ingested_at=T2)
    assert earliest_input_change(engine, T1) == base
    # The mode names the same earliest change the restart point was looked for before.
    assert update_strategy(engine, config, "default").mode == f"full (inputs changed from {base.date()})"
    # A correction on the base date itself: nothing stored before it to restart from.
    _correct(engine, prices, day=base, at=T2 + dt.timedelta(hours=1))
    assert update_strategy(engine, config, "default").mode == f"full (inputs changed from {base.date()})"


def test_earliest_input_change_reads_every_input_recorded_after_the_moment(setup):
    engine, _, _ = setup
    assert earliest_input_change(engine, T2) is None
    assert earliest_input_change(engine, T0) == START  # the prices, recorded at T1
    assert earliest_input_change(engine, T1) is None
    with engine.begin() as conn:
        conn.execute(schema.price_overrides.insert().values(symbol="KO", date=dt.date(2025, 2, 3), action="exclude",
                                                            reason="test", created_by="test", created_at=T2))
    assert earliest_input_change(engine, T1) == pd.Timestamp("2025-02-03")


def test_a_restart_comes_before_the_sessions_the_gate_may_hold(setup):
    engine, config, prices = setup
    newest, monday = pd.Timestamp("2025-02-25"), pd.Timestamp("2025-02-24")
    # The sessions after Tuesday 02-25 withdrawn; MSFT's close of Monday 02-24 withdrawn with a
    # recorded absence (a known reason: published with the forward fill, nothing held); AAPL
    # corrected on 02-25.
    load.replace_prices(engine, prices.iloc[0:0], config.symbols, (newest + pd.Timedelta(days=1)).date(), END.date(),
                        ingested_at=T2)
    load.replace_prices(engine, prices.iloc[0:0], ["MSFT"], monday.date(), monday.date(), ingested_at=T2)
    record_absence(engine, "MSFT", monday.date(), monday.date(), ABSENCE_KINDS[0], "test", "test")
    _correct(engine, prices, day=newest)
    report = update_strategy(engine, config, "default")
    assert report.mode.startswith("restart at the rebalance of") and report.held_from is None and report.last_date == newest
    # The absence is withdrawn (no input dated 02-24 changes: only the gate's verdict does) and
    # AAPL corrected again on 02-25. The last rebalance before the change, Monday 02-24, is now held;
    # a restart there would publish nothing. It comes before the newest hold_incomplete_sessions
    # (3) sessions and the one before them, and publishes to Friday 02-21 like a full recompute.
    with engine.begin() as conn:
        conn.execute(schema.price_absences.delete())
    _correct(engine, prices, factor=1.1, day=newest, at=T2 + dt.timedelta(hours=1))
    report = update_strategy(engine, config, "default")
    restart = pd.Timestamp(report.mode.split("rebalance of ")[1].split(" ")[0])
    assert report.mode.startswith("restart at the rebalance of") and restart < pd.Timestamp("2025-02-20")
    assert report.held_from == monday and report.last_date == pd.Timestamp("2025-02-21")
    restarted = _rows(engine, "index_values", "default")
    assert restarted["date"].max() == pd.Timestamp("2025-02-21")
    _forget(engine)
    report = update_strategy(engine, config, "default")
    assert report.mode == "full" and report.held_from == monday
    _assert_close(restarted, _rows(engine, "index_values", "default"), SERIES)
