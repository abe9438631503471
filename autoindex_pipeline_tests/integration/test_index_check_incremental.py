"""The index recomputation check after a daily update recomputes from the last rebalance before
the appended sessions, not from the base date (issue 14): a fault in an appended session is
caught, the full recomputation (on demand) still catches one in an old session, and on clean
rows both agree with the stored index within the check's 1e-9."""

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from autoindex_pipeline.config import DATABASE_URL_ENV_VAR, load_config
from autoindex_pipeline.definitions import build_definitions
from autoindex_pipeline.providers.prices.sample import SampleProvider
from autoindex_pipeline.services.index import update_strategy
from autoindex_pipeline.services.index_checks import FULL_CHECK_TAG, FULL_CHECK_VALUE, evaluate_index
from autoindex_pipeline.warehouse import load, schema
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline_tests.conftest import write_config
from autoindex_pipeline_tests.integration.conftest import BACKENDS, open_stack

START, CUT, NEW = pd.Timestamp("2024-10-01"), pd.Timestamp("2025-06-27"), pd.Timestamp("2025-06-30")
OLD = pd.Timestamp("2025-01-15")


@pytest.fixture
def updated(warehouse_url, tmp_path, monkeypatch):
    """A full update to CUT, then the daily update that appends NEW."""
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, warehouse_url)
    config = load_config(write_config(tmp_path, prices={"start_date": START.date().isoformat()}))
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    provider = SampleProvider(config.universe_frame, seed=config.providers.sample.seed)
    for start, end in ((START, CUT), (NEW, NEW)):
        fetched = provider.fetch_prices(config.symbols, start.date(), end.date())
        load.replace_prices(engine, fetched.frame, fetched.fetched_symbols, start.date(), end.date())
        report = update_strategy(engine, config, "default")
    assert report.mode == "incremental" and report.first_new_date == NEW
    return engine, config, {"default": report.first_new_date}


def _spoil(engine, day: pd.Timestamp) -> None:
    t = schema.index_values
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.strategy == "default", t.c.date == day.date()).values(level=t.c.level * 1.0001))


def _rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(schema.index_values)).scalar_one()


def test_the_daily_check_recomputes_one_rebalance_period_and_agrees_with_the_full_one(updated):
    engine, config, new_from = updated
    daily = evaluate_index(engine, config, new_from)["index_recomputation"]
    full = evaluate_index(engine, config, new_from, full_recomputation=True)["index_recomputation"]
    assert daily.passed and full.passed, (daily.offending, full.offending)
    assert full.evaluated == 2 * _rows(engine)  # total return and price return, every session
    # After the last rebalance before NEW only: the default strategy rebalances weekly, on
    # Monday 2025-06-23, so 06-24..06-30, both series.
    assert daily.evaluated == 2 * 5
    assert daily.observed <= 1e-9 and full.observed <= 1e-9
    # Without new_from (the old call) the whole history, as before.
    assert evaluate_index(engine, config)["index_recomputation"].evaluated == full.evaluated


def test_a_fault_in_the_appended_session_is_caught(updated):
    engine, config, new_from = updated
    _spoil(engine, NEW)
    daily = evaluate_index(engine, config, new_from)["index_recomputation"]
    assert not daily.passed
    assert set(pd.to_datetime(daily.offending["date"])) == {NEW}


def test_the_full_recomputation_still_catches_an_old_fault(updated):
    engine, config, new_from = updated
    _spoil(engine, OLD)
    assert evaluate_index(engine, config, new_from)["index_recomputation"].passed  # verified by its own run
    full = evaluate_index(engine, config, new_from, full_recomputation=True)["index_recomputation"]
    assert not full.passed
    assert set(pd.to_datetime(full.offending["date"])) == {OLD}


@pytest.fixture(params=BACKENDS)
def pipeline(request, tmp_path, monkeypatch):
    """The index assets as Dagster runs them, over prices stored to NEW."""
    with open_stack(request, request.param, tmp_path, monkeypatch, prices={"start_date": START.date().isoformat()}) as (path, config, instance):
        engine = create_warehouse_engine(config.database_url())
        upgrade(engine)
        provider = SampleProvider(config.universe_frame, seed=config.providers.sample.seed)
        fetched = provider.fetch_prices(config.symbols, START.date(), NEW.date())
        load.replace_prices(engine, fetched.frame, fetched.fetched_symbols, START.date(), NEW.date())
        yield build_definitions(path).resolve_assets_def("index_values"), instance, engine


def _recomputation(index_assets, instance, **tags):
    done = dg.materialize([index_assets], instance=instance, raise_on_error=False, tags=tags)
    return next(e for e in done.get_asset_check_evaluations() if e.check_name == "index_recomputation")


def test_the_run_tag_asks_the_asset_for_the_full_recomputation(pipeline):
    index_assets, instance, engine = pipeline
    assert _recomputation(index_assets, instance).passed  # the first, full update: checked in full
    _spoil(engine, OLD)
    # Nothing new: the newest rebalance period is recomputed, the old fault is not looked at...
    assert _recomputation(index_assets, instance).passed
    # ...unless the run asks for the whole history.
    full = _recomputation(index_assets, instance, **{FULL_CHECK_TAG: FULL_CHECK_VALUE})
    assert not full.passed
