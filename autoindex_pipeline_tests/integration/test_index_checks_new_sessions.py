"""The daily-moves check judges the sessions an update appended, so a drop is reported once,
by the run that published it, not again by every later run (found by the simulated quarter:
every clean session re-raised the same old warnings)."""

import pandas as pd

from autoindex_pipeline.config import DATABASE_URL_ENV_VAR, load_config
from autoindex_pipeline.providers.prices.sample import SampleProvider
from autoindex_pipeline.services.index import update_strategy
from autoindex_pipeline.services.index_checks import evaluate_index
from autoindex_pipeline.warehouse import load
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline_tests.conftest import write_config


def test_daily_moves_judges_only_the_appended_sessions(warehouse_url, tmp_path, monkeypatch):
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, warehouse_url)
    config = load_config(write_config(tmp_path, prices={"start_date": "2024-10-01"}))
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    provider = SampleProvider(config.universe_frame, seed=config.providers.sample.seed)
    fetched = provider.fetch_prices(config.symbols, pd.Timestamp("2024-10-01").date(), pd.Timestamp("2025-06-30").date())
    load.replace_prices(engine, fetched.frame, fetched.fetched_symbols, pd.Timestamp("2024-10-01").date(),
                        pd.Timestamp("2025-06-30").date())
    report = update_strategy(engine, config, "default")
    whole = evaluate_index(engine, config)["daily_moves"]
    assert not whole.passed and whole.offending_count > 0  # the history has drops beyond -1%
    first_drop = pd.Timestamp(whole.offending["date"].min())
    assert evaluate_index(engine, config, {"default": report.first_new_date})["daily_moves"].offending_count == whole.offending_count
    last_only = evaluate_index(engine, config, {"default": pd.Timestamp("2025-06-30")})["daily_moves"]
    assert last_only.evaluated == 1
    nothing_new = evaluate_index(engine, config, {"default": None})["daily_moves"]
    assert nothing_new.passed and nothing_new.evaluated == 0
    on_drop = evaluate_index(engine, config, {"default": first_drop})["daily_moves"]
    assert pd.Timestamp(on_drop.offending["date"].min()) == first_drop
