"""market_caps (migration 0012) on SQLite and PostgreSQL: close x the newest shares figure known
on each session, its volume and dollar volume; no row before any shares figure is known."""

import datetime as dt

import pandas as pd
import pytest

from autoindex_pipeline.warehouse import load
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.market_caps import read_market_caps
from autoindex_pipeline.warehouse.migrate import upgrade


def test_market_cap_follows_the_shares_known_on_each_session(warehouse_url):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    dates = pd.bdate_range("2025-03-03", periods=5)
    frame = pd.DataFrame({"symbol": "AAA", "date": dates, "open": 10.0, "high": 11.0, "low": 9.0,
                          "close": [10.0, 10.5, 11.0, 11.5, 12.0], "volume": [1e6, 2e6, 3e6, 4e6, 5e6], "source": "test"})
    load.replace_prices(engine, frame, ["AAA"], dates[0].date(), dates[-1].date())
    shares = pd.DataFrame({"symbol": ["AAA", "AAA"], "date": pd.to_datetime(["2025-03-04", "2025-03-06"]),
                           "shares_outstanding": [100.0, 200.0], "source": "test"})
    load.upsert_shares(engine, shares)

    caps = read_market_caps(engine, symbols=["AAA"])
    assert caps["date"].dt.strftime("%m-%d").tolist() == ["03-04", "03-05", "03-06", "03-07"]  # none before 03-04
    assert caps["market_cap"].tolist() == pytest.approx([1050.0, 1100.0, 2300.0, 2400.0])
    assert caps["shares_date"].dt.strftime("%m-%d").tolist() == ["03-04", "03-04", "03-06", "03-06"]
    assert caps["dollar_volume"].tolist() == pytest.approx([10.5 * 2e6, 11 * 3e6, 11.5 * 4e6, 12 * 5e6])
    window = read_market_caps(engine, start=dt.date(2025, 3, 6), end=dt.date(2025, 3, 6))
    assert window["volume"].tolist() == [4e6]
    assert read_market_caps(engine, symbols=["ZZZ"]).empty


def test_the_asset_reports_market_cap_and_volume_of_the_newest_session(stack):
    from autoindex_pipeline.cli.runner import run_prices_job

    path, config, instance = stack
    start, end = pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-06")
    assert run_prices_job(config, path, start, end, instance=instance).success
    # Alone, so the closes of the range are stored before it reads them.
    result = run_prices_job(config, path, start, end, instance=instance, select=["market_cap_data"])
    assert result.success
    metadata = result.asset_materializations_for_node("market_cap_data")[0].metadata
    stored = read_market_caps(create_warehouse_engine(config.database_url()), start=end.date(), end=end.date())
    assert len(stored) > 0 and stored["market_cap"].gt(0).all() and stored["volume"].gt(0).all()
    assert metadata["market_cap_session"].value == "2025-06-06"
    assert metadata["symbols_with_market_cap"].value == len(stored)
    assert metadata["total_market_cap"].value == pytest.approx(stored["market_cap"].sum())
    assert metadata["total_dollar_volume"].value == pytest.approx((stored["close"] * stored["volume"]).sum())
    largest = stored.nlargest(1, "market_cap")["symbol"].iloc[0]
    assert f"| {largest} |" in metadata["largest_market_caps"].value


def test_export_market_cap_data_writes_market_cap_and_volume(warehouse_url, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from autoindex_pipeline.cli import main
    from autoindex_pipeline.config import DATABASE_URL_ENV_VAR
    from autoindex_pipeline_tests.conftest import write_config

    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    dates = pd.bdate_range("2025-03-03", periods=3)
    prices = pd.DataFrame({"symbol": "AAA", "date": dates, "open": 10.0, "high": 11.0, "low": 9.0,
                           "close": [10.0, 11.0, 12.0], "volume": [1e6, 2e6, 3e6], "source": "test"})
    load.replace_prices(engine, prices, ["AAA"], dates[0].date(), dates[-1].date())
    load.upsert_shares(engine, pd.DataFrame({"symbol": ["AAA"], "date": [dates[0]], "shares_outstanding": [100.0],
                                             "source": "test"}))
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, warehouse_url)
    out = tmp_path / "caps.csv"
    result = CliRunner().invoke(main, ["export", "market_cap_data", "--config", str(write_config(tmp_path)),
                                       "--output", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    exported = pd.read_csv(out)
    assert exported[["date", "volume", "market_cap"]].values.tolist() == [
        ["2025-03-03", 1e6, 1000.0], ["2025-03-04", 2e6, 1100.0], ["2025-03-05", 3e6, 1200.0]]
