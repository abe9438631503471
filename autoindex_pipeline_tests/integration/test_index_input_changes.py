"""Every input recorded after the last computation makes the next ordinary index update recompute,
on SQLite and PostgreSQL: a new shares figure, a withdrawn price, an override set or removed, each
alone, restarts the update at the last stored rebalance before its date, and the result equals a
full recompute to 1e-9; with nothing recorded since, the update stays "up to date"."""

import pandas as pd
import pytest

from autoindex_pipeline.config import load_config
from autoindex_pipeline.services.index import update_strategy
from autoindex_pipeline.warehouse import load
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline.warehouse.overrides import remove_override, set_override
from autoindex_pipeline_tests.conftest import write_config
from autoindex_pipeline_tests.integration.sample_history import store_sample_history
from autoindex_pipeline_tests.integration.test_index_restart import (
    END,
    SERIES,
    START,
    SYMBOLS,
    T0,
    T1,
    T2,
    _assert_close,
    _forget,
    _rows,
)

DAY = pd.Timestamp("2025-01-15")  # a Wednesday: weekly rebalances before it
TABLES = ("index_values", "allocations", "allocation_sleeves", "risk_metrics")


@pytest.fixture
def setup(warehouse_url, tmp_path):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    config = load_config(write_config(tmp_path, prices={"start_date": str(START.date())}, universe={"symbols": SYMBOLS}))
    prices = store_sample_history(engine, config, START, END, known_at=T0, prices_at=T1)
    assert update_strategy(engine, config, "default").mode == "full"
    return engine, config, prices


def _expected_restart(stored: pd.DataFrame, changed: pd.Timestamp) -> str:
    after_base = stored["is_rebalance"] & (stored["date"] > stored["date"].min()) & (stored["date"] < changed)
    rebalance = stored.loc[after_base, "date"].max()
    return f"restart at the rebalance of {rebalance.date()} (inputs changed from {changed.date()})"


def _assert_restart_equals_full(engine, config, changed: pd.Timestamp) -> None:
    """The next update restarts before ``changed``, moves the index from there, is then up to date
    (its watermark covers the change), and equals a recompute from the base date."""
    stored = _rows(engine, "index_values", "default")
    report = update_strategy(engine, config, "default")
    assert report.mode == _expected_restart(stored, changed)
    now = _rows(engine, "index_values", "default")
    assert now.loc[now["date"] < changed, "level"].tolist() == stored.loc[stored["date"] < changed, "level"].tolist()
    assert (now.loc[now["date"] >= changed, "level"].to_numpy() != stored.loc[stored["date"] >= changed, "level"].to_numpy()).any()
    assert update_strategy(engine, config, "default").mode == "up to date"

    restarted = {t: _rows(engine, t, "default") for t in TABLES}
    _forget(engine)
    assert update_strategy(engine, config, "default").mode == "full"
    full = {t: _rows(engine, t, "default") for t in TABLES}
    _assert_close(restarted["index_values"], full["index_values"], SERIES)
    assert restarted["index_values"]["is_rebalance"].tolist() == full["index_values"]["is_rebalance"].tolist()
    for table in ("allocations", "allocation_sleeves", "risk_metrics"):
        keys = [c for c in ("symbol", "sleeve") if c in full[table].columns]
        for key in keys:
            assert restarted[table][key].tolist() == full[table][key].tolist(), (table, key)
        numeric = [c for c in full[table].columns
                   if c not in ("strategy", "version", "date", "symbol", "sleeve", "computed_at")]
        _assert_close(restarted[table], full[table], numeric)


def test_nothing_recorded_since_is_up_to_date(setup):
    engine, config, _ = setup
    assert update_strategy(engine, config, "default").mode == "up to date"
    # A shares figure dated after the computed history changes nothing computed yet.
    load.upsert_shares(engine, pd.DataFrame({"symbol": ["XOM"], "date": [END + pd.Timedelta(days=3)],
                                             "shares_outstanding": [1.0e3], "source": ["late"]}), ingested_at=T2)
    assert update_strategy(engine, config, "default").mode == "up to date"


def test_a_new_shares_figure_alone_restarts_the_update(setup):
    engine, config, _ = setup
    # Between the sample's reports: XOM's market cap collapses from DAY on.
    load.upsert_shares(engine, pd.DataFrame({"symbol": ["XOM"], "date": [DAY], "shares_outstanding": [1.0e3],
                                             "source": ["late"]}), ingested_at=T2)
    _assert_restart_equals_full(engine, config, DAY)


def test_a_withdrawn_price_alone_restarts_the_update(setup):
    engine, config, prices = setup
    # The re-delivery of AAPL's DAY is empty: the stored row is withdrawn (a `withdrawn`
    # revision, the row deleted), the close is forward filled from the day before.
    result = load.replace_prices(engine, prices.iloc[0:0], ["AAPL"], DAY.date(), DAY.date(), ingested_at=T2)
    assert result.rows_deleted == 1 and result.revisions == 1
    _assert_restart_equals_full(engine, config, DAY)


def test_an_override_set_and_then_removed_each_restart_the_update(setup):
    engine, config, _ = setup
    set_override(engine, "AAPL", DAY.date(), "exclude", "test: a wrong print", "test")
    _assert_restart_equals_full(engine, config, DAY)
    # Its removal (no row left in price_overrides, only the audit trail's) gives the close back.
    assert remove_override(engine, "AAPL", DAY.date(), "test: the print was right", "test")
    _assert_restart_equals_full(engine, config, DAY)

