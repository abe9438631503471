"""Shares outstanding inside TwelveData's plan: on the free plan (8 credits a minute) a
/statistics call (50 credits) cannot fit, so the shares step is skipped with a warning naming the
limit and the daily prices run still succeeds; on a plan where it fits, only the stale figures are
refreshed, stalest first, as many as the day's shares budget pays for. The TwelveData client runs
on a fake clock against a local fake server (as in unit/test_twelvedata.py)."""

import datetime as dt
import json
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest

from autoindex_pipeline.config import DATABASE_URL_ENV_VAR, load_config
from autoindex_pipeline.defs.prices.assets import build_prices_asset
from autoindex_pipeline.defs.reference.assets import market_cap_data, universe_assets
from autoindex_pipeline.defs.resources import ProvidersResource, SettingsResource, WarehouseResource
from autoindex_pipeline.defs.shared import trading_day_partitions
from autoindex_pipeline.domain.calendar import last_closed_session
from autoindex_pipeline.providers.prices.twelvedata import TwelveDataProvider
from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.read import read_shares
from autoindex_pipeline_tests.conftest import write_config
from autoindex_pipeline_tests.fakes import FakeClock

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "twelvedata"
KEY = "td-test-KEY-0123456789abcdef"
SYMBOLS = ["AAPL", "MSFT", "XOM"]  # + the benchmark SPY


class FakeClockProviders(ProvidersResource):
    """Prices from the configured (sample) provider; shares from a TwelveData client on a fake
    clock set to the evening of ``as_of``, built from the configured plan."""

    base_url: str
    now: float

    def shares(self) -> TwelveDataProvider:
        td = self.settings.config.providers.twelvedata
        clock = FakeClock(self.now)
        return TwelveDataProvider(KEY, base_url=self.base_url, credits_per_minute=td.credits_per_minute,
                                  credits_per_day=td.credits_per_day, statistics_credits=td.shares_credits_per_call,
                                  clock=clock, sleep=clock.sleep, timeout=2.0)


@pytest.fixture
def as_of() -> dt.date:
    return last_closed_session().date()


@pytest.fixture
def run(tmp_path, monkeypatch, httpserver, as_of):
    """run(plan, **asset config) -> the result of one prices run (universe, prices of ``as_of``,
    shares) with shares on TwelveData under ``plan``."""
    httpserver.expect_request("/statistics").respond_with_json(json.loads((FIXTURES / "statistics.json").read_text()))
    url = f"sqlite:///{tmp_path / 'wh.sqlite'}"
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, url)
    instance = dg.DagsterInstance.ephemeral()
    evening = dt.datetime.combine(as_of, dt.time(18, 0), tzinfo=ZoneInfo("America/New_York")).timestamp()

    def run_once(plan: dict, **shares_config):
        path = write_config(tmp_path, universe={"symbols": SYMBOLS}, prices={"start_date": "2024-01-02"},
                            providers={"prices": "sample", "shares": "twelvedata", "twelvedata": plan})
        config = load_config(path)
        settings = SettingsResource(config_path=str(path))
        prices = build_prices_asset(trading_day_partitions(config.prices.start_date, config.prices.calendar))
        return dg.materialize(
            [universe_assets, prices, market_cap_data],
            partition_key=as_of.isoformat(),
            instance=instance,
            resources={"settings": settings, "warehouse": WarehouseResource(url=url),
                       "providers": FakeClockProviders(settings=settings, base_url=httpserver.url_for(""), now=evening)},
            run_config={"ops": {"market_cap_data": {"config": shares_config}}} if shares_config else None,
            raise_on_error=False,
        ), instance

    yield run_once
    instance.dispose()


def _shares_meta(result):
    return result.asset_materializations_for_node("market_cap_data")[0].metadata


def _warnings(instance, result) -> list[str]:
    return [e.user_message for e in instance.all_logs(result.run_id) if e.level >= 30]


def test_free_plan_skips_shares_with_a_warning_and_the_prices_run_succeeds(run, httpserver, as_of):
    result, instance = run({"credits_per_minute": 8, "credits_per_day": 800})
    assert result.success
    assert result.asset_materializations_for_node("prices")
    meta = _shares_meta(result)
    assert meta["symbols_requested"].value == 0
    skipped = meta["skipped"].value
    assert "costs 50 credits" in skipped and "plan limit is 8 credits per minute" in skipped
    assert "providers.twelvedata.credits_per_minute" in skipped
    assert any("plan limit is 8 credits per minute" in w for w in _warnings(instance, result))
    assert httpserver.log == []  # no credit spent on a call the API would refuse
    assert read_shares(create_warehouse_engine(os.environ[DATABASE_URL_ENV_VAR])).empty


def test_paid_plan_refreshes_the_stalest_shares_within_the_days_budget(run, httpserver, as_of):
    # 120 credits a day for shares (prices come from the sample provider): two calls of 50.
    plan = {"credits_per_minute": 60, "credits_per_day": 120}
    first, instance = run(plan)
    assert first.success
    meta = _shares_meta(first)
    assert meta["symbols_requested"].value == 2 and meta["provider_credits_used"].value == 100
    assert "2 of 4 due symbols" in meta["skipped"].value
    asked = [r.query_string.decode() for r, _ in httpserver.log]
    assert asked == ["symbol=AAPL", "symbol=MSFT"]  # never fetched, then by name
    second, _ = run(plan)
    assert [r.query_string.decode() for r, _ in httpserver.log][2:] == ["symbol=SPY", "symbol=XOM"]
    assert _shares_meta(second)["symbols_requested"].value == 2
    # Everything is fresh now: the third run spends nothing.
    third, _ = run(plan)
    assert third.success and len(httpserver.log) == 4
    assert "at most 7 days old" in _shares_meta(third)["skipped"].value
    stored = read_shares(create_warehouse_engine(os.environ[DATABASE_URL_ENV_VAR]))
    assert sorted(stored["symbol"]) == ["AAPL", "MSFT", "SPY", "XOM"]
    assert set(stored["date"]) == {pd.Timestamp(as_of)} and set(stored["source"]) == {"twelvedata"}


def test_shares_older_than_the_cadence_are_due_again(run, httpserver, as_of):
    plan = {"credits_per_minute": 60, "credits_per_day": 1000}
    run(plan)
    assert len(httpserver.log) == 4
    fresh, _ = run(plan, max_age_days=7)
    assert len(httpserver.log) == 4 and _shares_meta(fresh)["symbols_requested"].value == 0
    # Figures older than the cadence are due again.
    engine = create_warehouse_engine(os.environ[DATABASE_URL_ENV_VAR])
    with engine.begin() as conn:
        conn.execute(schema.market_cap_data.update().values(date=as_of - dt.timedelta(days=8)))
    due, _ = run(plan, max_age_days=7)
    assert _shares_meta(due)["symbols_requested"].value == 4 and len(httpserver.log) == 8
