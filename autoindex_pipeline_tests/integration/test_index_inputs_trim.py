"""A full recompute reads its frames from the first stored close, not from the configured start:
the sessions before it are all-NaN rows (3,000 symbols x 2 y of prices on sessions from 2016 were
eight 60 MiB frames, issue 14), and dropping them changes no input of the computation."""

import pandas as pd

from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.services.index import _inputs
from autoindex_pipeline.services.returns import read_clean_returns
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline_tests.integration.test_index_pipeline import END, indexed  # noqa: F401 (fixture)

FIRST_CLOSE = pd.Timestamp("2024-10-01")  # the fixture's prices start here


def test_frames_start_at_the_first_stored_close_with_the_same_values(indexed):  # noqa: F811
    _, config, _ = indexed
    engine = create_warehouse_engine(config.database_url())
    strat = config.strategies["default"]
    args = (strat.max_forward_fill_days, strat.min_daily_return, strat.max_daily_return)
    early = sessions_between("2023-01-03", END)
    whole = read_clean_returns(engine, config.symbols, early, *args)
    trimmed = read_clean_returns(engine, config.symbols, early, *args, from_first_close=True)
    assert len(whole.raw) == len(early) and whole.raw.loc[:FIRST_CLOSE - pd.Timedelta(days=1)].isna().all().all()
    assert trimmed.raw.index[0] == FIRST_CLOSE
    for field in ("raw", "closes", "returns", "price_returns", "screen_closes", "factors"):
        pd.testing.assert_frame_equal(getattr(trimmed, field), getattr(whole, field).loc[FIRST_CLOSE:], check_freq=False)


def test_a_start_years_before_the_data_gives_the_same_inputs(indexed):  # noqa: F811
    _, config, _ = indexed
    engine = create_warehouse_engine(config.database_url())
    strat = config.strategies["default"]
    early = config.model_copy(update={"prices": config.prices.model_copy(update={"start_date": pd.Timestamp("2019-01-02").date()})})
    sessions, prices, shares, _ = _inputs(engine, config, strat, FIRST_CLOSE, END)
    sessions_early, prices_early, shares_early, _ = _inputs(engine, early, strat, pd.Timestamp("2019-01-02"), END)
    assert sessions_early[0] == FIRST_CLOSE
    pd.testing.assert_index_equal(sessions_early, sessions[sessions >= FIRST_CLOSE])
    pd.testing.assert_frame_equal(prices_early.returns, prices.returns.loc[FIRST_CLOSE:], check_freq=False)
    pd.testing.assert_frame_equal(shares_early, shares.loc[FIRST_CLOSE:], check_freq=False)
