"""Allocations, index values and risk metrics materialized from stored prices in a real Dagster
instance, on SQLite and on PostgreSQL: several strategies, versions, incremental = full,
backfills recompute, and the CLI export."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from autoindex_pipeline.cli import main
from autoindex_pipeline.cli.runner import run_index_job, run_prices_job
from autoindex_pipeline.config import load_config
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.read import read_table
from autoindex_pipeline_tests.conftest import write_config
from autoindex_pipeline_tests.integration.conftest import BACKENDS

START, END = pd.Timestamp("2025-01-02"), pd.Timestamp("2025-06-30")
STRATEGIES = {
    "default": {},
    "capped_monthly": {"momentum_weight": 0.6, "market_cap_weight": 0.0, "risk_parity_weight": 0.4,
                       "rebalance_frequency": "monthly", "max_asset_weight": 0.2, "transaction_cost_bps": 10},
}


def _overrides(strategies=None, **extra):
    merged = {name: {**params, **(strategies or {}).get(name, {})} for name, params in STRATEGIES.items()}
    return {"prices": {"start_date": "2024-10-01"}, "strategies": merged, **extra}


def _config(tmp_path, strategies=None, **extra):
    path = write_config(tmp_path, **_overrides(strategies, **extra))
    return str(path), load_config(path)


def _prices_and_index(path, config, instance):
    assert run_prices_job(config, path, pd.Timestamp("2024-10-01"), END, instance=instance).success
    assert run_index_job(config, path, instance=instance).success


@pytest.fixture(params=BACKENDS)
def indexed(request, tmp_path, monkeypatch, warehouse_templates):
    """A stack whose warehouse holds prices 2024-10-01..END and both strategies' index computed
    from them: built once per backend, each test gets its own copy (several change it)."""
    with warehouse_templates.stack(request, request.param, "index_pipeline", _prices_and_index, tmp_path, monkeypatch,
                                   **_overrides()) as opened:
        yield opened


def _index(engine, strategy="default"):
    frame = read_table(engine, "index_values", {"strategy": strategy})
    frame["date"] = pd.to_datetime(frame["date"])
    return frame.sort_values("date").reset_index(drop=True)


def test_index_for_two_strategies_from_stored_prices(indexed):
    _, config, _ = indexed  # the template's runs asserted their success
    engine = create_warehouse_engine(config.database_url())
    for name, strat in config.strategies.items():
        index = _index(engine, name)
        assert set(index["version"]) == {strat.version}
        assert index["level"].iloc[0] == 100.0 and index["benchmark_level"].iloc[0] == 100.0
        assert index["date"].isin(sessions_between(index["date"].iloc[0], END)).all()
        assert len(index) == len(sessions_between(index["date"].iloc[0], END))
        allocations = read_table(engine, "allocations", {"strategy": name})
        sums = allocations.groupby("date")["weight"].sum()
        assert np.allclose(sums, 1.0, atol=1e-12)
        assert "SPY" not in set(allocations["symbol"])  # the benchmark is never a constituent
        parts = allocations[["momentum_weight", "market_cap_weight", "risk_parity_weight"]].sum(axis=1)
        assert np.allclose(parts, allocations["weight"], atol=1e-12)
        metrics = read_table(engine, "risk_metrics", {"strategy": name})
        assert len(metrics) == len(index)
        assert metrics.sort_values("date")["sharpe"].iloc[:19].isna().all()  # < 20 returns: NULL, not 0
        assert metrics.sort_values("date")["sharpe"].iloc[-1] == metrics.sort_values("date")["sharpe"].iloc[-1]  # not NaN
    capped = read_table(engine, "allocations", {"strategy": "capped_monthly"})
    assert capped["weight"].max() <= 0.2 + 1e-12
    rebalances = pd.DatetimeIndex(sorted(set(pd.to_datetime(capped["date"]))))
    first_sessions = sessions_between("2024-10-01", END).to_series().groupby(lambda d: (d.year, d.month)).min()
    assert set(rebalances) <= set(first_sessions)  # monthly: first session of each month only
    assert len(rebalances) >= 7


SESSIONS = sessions_between("2024-10-01", END)
CUT = SESSIONS[-8]
# Fewer symbols than the other tests (6 + the benchmark, enough for the 20% cap): the test is
# about 15 runs, and what it checks (incremental = full) does not depend on the universe's size.
DAILY_SYMBOLS = ["AAPL", "MSFT", "XOM", "KO", "NVDA", "JPM"]


def _prices_and_index_to_cut(path, config, instance):
    assert run_prices_job(config, path, SESSIONS[0], CUT, instance=instance).success
    assert run_index_job(config, path, instance=instance).success


@pytest.fixture(params=BACKENDS)
def indexed_to_cut(request, tmp_path, monkeypatch, warehouse_templates):
    with warehouse_templates.stack(request, request.param, "index_to_cut", _prices_and_index_to_cut, tmp_path,
                                   monkeypatch, **_overrides(universe={"symbols": DAILY_SYMBOLS})) as opened:
        yield opened


# The index job without its performance reports: the reports read the index and change none of
# it, and rendering their 12 charts was two thirds of each daily index run here.
DAILY_INDEX_ASSETS = ["quality_report", "strategy_configs", "allocations", "index_values", "risk_metrics"]


def test_daily_incremental_extension_equals_a_full_recompute(indexed_to_cut):
    path, config, instance = indexed_to_cut
    sessions, cut = SESSIONS, CUT
    for day in sessions[sessions > cut]:  # the scheduled daily run, seven times
        assert run_prices_job(config, path, day, day, instance=instance).success
        result = run_index_job(config, path, instance=instance, select=DAILY_INDEX_ASSETS)
        assert result.success
    engine = create_warehouse_engine(config.database_url())
    incremental = {name: _index(engine, name) for name in config.strategies}
    logs = "\n".join(str(e.message) for e in instance.all_logs(result.run_id))
    assert "incremental" in logs

    with engine.begin() as conn:  # forget the state: the next run recomputes everything
        for table in ("index_state", "index_values", "allocations", "risk_metrics"):
            conn.execute(sa.text(f"DELETE FROM {table}"))
    assert run_index_job(config, path, instance=instance, select=DAILY_INDEX_ASSETS).success
    for name in config.strategies:
        full = _index(engine, name)
        assert len(full) == len(incremental[name])
        np.testing.assert_allclose(incremental[name]["level"], full["level"], rtol=0, atol=1e-9)
        np.testing.assert_allclose(incremental[name]["benchmark_level"], full["benchmark_level"], rtol=0, atol=1e-9)


def test_backfilling_an_old_partition_recomputes_what_depends_on_it(indexed):
    path, config, instance = indexed
    engine = create_warehouse_engine(config.database_url())
    before = _index(engine)
    # A provider correction of an old session, as a re-materialized partition writes it: the
    # stored rows change and carry a newer ingested_at.
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE prices SET close = close * 1.05, ingested_at = :now WHERE date = '2025-03-03' AND symbol = 'AAPL'"),
            {"now": dt.datetime.now(dt.UTC)},
        )
    result = run_index_job(config, path, instance=instance)
    assert result.success
    logs = "\n".join(str(e.message) for e in instance.all_logs(result.run_id))
    # Restarted at the last rebalance before the change (services/index_restart.py), not from D0.
    assert "restart at the rebalance of 2025-02-2" in logs and "(inputs changed from 2025-03-03)" in logs
    after = _index(engine)
    changed = after.loc[after["level"].sub(before["level"]).abs() > 1e-12, "date"]
    assert len(changed) and changed.min() >= pd.Timestamp("2025-03-03")  # nothing before it moved


def test_a_changed_config_is_a_new_version_beside_the_old_rows(indexed, tmp_path):
    path, config, instance = indexed
    old_version = config.strategies["default"].version
    changed, new_config = _config(tmp_path, strategies={"default": {"transaction_cost_bps": 25}})
    assert run_index_job(new_config, changed, instance=instance).success
    engine = create_warehouse_engine(config.database_url())
    versions = read_table(engine, "strategy_configs", {"strategy": "default"})
    assert set(versions["version"]) == {old_version, new_config.strategies["default"].version}
    assert versions.set_index("version").loc[old_version, "is_current"] in (False, 0)
    index = read_table(engine, "index_values", {"strategy": "default"})
    assert set(index["version"]) == {old_version, new_config.strategies["default"].version}


def test_no_eligible_asset_is_a_clear_message_and_no_rows(stack, tmp_path):
    _, _, instance = stack
    path, config = _config(tmp_path, universe={"symbols": ["AAPL", "MSFT"]})
    # Ten sessions of prices: no asset reaches min_history = 20 valid returns.
    assert run_prices_job(config, path, pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-13"), instance=instance).success
    result = run_index_job(config, path, instance=instance)
    assert result.success
    warnings = [str(e.message) for e in instance.all_logs(result.run_id) if "eligible" in str(e.message)]
    assert warnings, "the run must say why there is no index"
    meta = result.asset_materializations_for_node("index_assets")[1].metadata
    assert "no eligible asset" in meta["strategies"].value
    assert read_table(create_warehouse_engine(config.database_url()), "index_values").empty


def test_an_infeasible_cap_fails_naming_the_key(indexed, tmp_path):
    _, _, instance = indexed
    # The stored prices, a cap no 12-symbol portfolio can meet (a new version: computed from scratch).
    path, config = _config(tmp_path, strategies={"capped_monthly": {"max_asset_weight": 0.05}})
    result = run_index_job(config, path, instance=instance)
    assert not result.success
    message = next(e for e in result.all_events if e.is_step_failure).event_specific_data.error.message
    assert "max_asset_weight" in message and "capped_monthly" in message


def test_export_one_strategy(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("AUTOINDEX_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    path, config = _config(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["run", "--config", path, "--start", "2024-10-01", "--end", "2025-03-31"]).exit_code == 0
    out = tmp_path / "idx.csv"
    result = runner.invoke(main, ["export", "index_values", "--strategy", "capped_monthly", "--config", path, "--output", str(out)])
    assert result.exit_code == 0, result.output
    exported = pd.read_csv(out)
    assert set(exported["strategy"]) == {"capped_monthly"} and exported["level"].iloc[0] == 100.0
    bad = runner.invoke(main, ["export", "index_values", "--strategy", "nope", "--config", path])
    assert bad.exit_code == 2 and "unknown strategy" in bad.output


def test_point_in_time_perturbing_every_price_after_d_changes_nothing_up_to_d(indexed):
    path, config, instance = indexed
    engine = create_warehouse_engine(config.database_url())
    cut = "2025-04-15"
    before = {t: read_table(engine, t) for t in ("allocations", "index_values", "risk_metrics")}
    rng = np.random.default_rng(7)
    with engine.begin() as conn:
        rows = conn.execute(sa.text("SELECT symbol, date FROM prices WHERE date > :cut"), {"cut": cut}).fetchall()
        factors = rng.uniform(0.5, 1.5, len(rows))
        conn.execute(
            sa.text("UPDATE prices SET close = close * :f, ingested_at = :now WHERE symbol = :s AND date = :d"),
            [{"f": float(f), "now": dt.datetime.now(dt.UTC), "s": r[0], "d": r[1]} for r, f in zip(rows, factors)],
        )
    assert run_index_job(config, path, instance=instance).success
    for table, old in before.items():
        new = read_table(engine, table)
        # When and from which data version (index_values.data_as_of) a row was computed: provenance, not values.
        provenance = [c for c in ("computed_at", "data_as_of") if c in old.columns]
        old_upto = old[pd.to_datetime(old["date"]) <= cut].drop(columns=provenance).reset_index(drop=True)
        new_upto = new[pd.to_datetime(new["date"]) <= cut].drop(columns=provenance).reset_index(drop=True)
        pd.testing.assert_frame_equal(old_upto, new_upto, check_exact=False, rtol=0, atol=1e-12)
        after_old = old[pd.to_datetime(old["date"]) > cut]
        after_new = new[pd.to_datetime(new["date"]) > cut]
        if table == "index_values":
            assert not np.allclose(after_old["level"].to_numpy(), after_new["level"].to_numpy())  # the perturbation bites


@pytest.mark.heavy(40)  # prices, news and the index twice, on its own stack
def test_sentiment_tilt_reads_sentiment_daily_point_in_time(tmp_path, monkeypatch):
    import dagster as dg

    from autoindex_pipeline.cli.runner import run_news_job

    monkeypatch.setenv("AUTOINDEX_DATABASE_URL", f"sqlite:///{tmp_path / 'wh.sqlite'}")
    path = write_config(tmp_path, prices={"start_date": "2024-10-01"}, news={"start_date": "2025-01-01"},
                        strategies={"default": {}, "tilted": {"sentiment_tilt": 0.8}})
    config = load_config(path)
    (tmp_path / "dg").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dg")) as instance:
        assert run_prices_job(config, str(path), pd.Timestamp("2024-10-01"), pd.Timestamp("2025-03-31"), instance=instance).success
        assert run_news_job(config, str(path), dt.date(2025, 2, 1), dt.date(2025, 3, 31), instance=instance).success
        assert run_index_job(config, str(path), instance=instance).success
        engine = create_warehouse_engine(config.database_url())
        plain = read_table(engine, "allocations", {"strategy": "default"})
        tilted = read_table(engine, "allocations", {"strategy": "tilted"})
        merged = plain.merge(tilted, on=["date", "symbol"], suffixes=("_plain", "_tilted"))
        merged["date"] = pd.to_datetime(merged["date"])
        before_news = merged[merged["date"] < "2025-02-01"]
        with_news = merged[merged["date"] >= "2025-02-03"]
        np.testing.assert_allclose(before_news["weight_plain"], before_news["weight_tilted"], atol=1e-15)  # z = 0
        assert (with_news["weight_plain"] - with_news["weight_tilted"]).abs().max() > 1e-4  # the tilt acts
        # Backfilling an older news day is a recompute of the tilted strategy, not of the plain one.
        assert run_news_job(config, str(path), dt.date(2025, 1, 20), dt.date(2025, 1, 31), instance=instance).success
        result = run_index_job(config, str(path), instance=instance)
        logs = "\n".join(str(e.message) for e in instance.all_logs(result.run_id))
        assert "tilted" in logs and "restart at the rebalance of" in logs and "(inputs changed from 2025-01-20)" in logs
