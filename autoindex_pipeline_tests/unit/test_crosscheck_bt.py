"""Our index engine against bt (spec section 7: "the same convention as a bt backtest with target
weights rebalanced on the same dates, fractional positions and no commissions").

bt is a dev-only dependency: the test skips when it is not installed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.config import StrategyConfig
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.domain.cleaning import clean_closes, daily_returns
from autoindex_pipeline.domain.index import BASE_LEVEL, compute_index
from autoindex_pipeline.domain.strategy import base_date, rebalance_dates, shares_as_of, target_weights

bt = pytest.importorskip("bt")


def _prices(n_assets: int = 30, seed: int = 21) -> pd.DataFrame:
    """~300 sessions of clean random walks (no gaps, no clipped moves) plus the benchmark."""
    sessions = sessions_between("2022-03-01", "2023-05-05")
    rng = np.random.default_rng(seed)
    vol = rng.uniform(0.005, 0.03, n_assets + 1)
    shocks = rng.standard_normal((len(sessions), n_assets + 1)) * vol + 0.0003
    symbols = [f"A{i:02d}" for i in range(n_assets)] + ["SPY"]
    return pd.DataFrame(rng.uniform(5, 200, n_assets + 1) * np.cumprod(1 + shocks, axis=0), index=sessions, columns=symbols)


def _bt_levels(prices: pd.DataFrame, targets: pd.DataFrame, d0: pd.Timestamp) -> pd.Series:
    weights = targets.pivot(index="date", columns="symbol", values="weight").fillna(0.0)
    strategy = bt.Strategy(
        "autoindex",
        [bt.algos.RunOnDate(*weights.index), bt.algos.WeighTarget(weights), bt.algos.Rebalance()],
    )
    constituents = prices.drop(columns="SPY")
    backtest = bt.Backtest(strategy, constituents, integer_positions=False, initial_capital=1e6, progress_bar=False)
    result = bt.run(backtest)["autoindex"].prices
    return result.loc[d0:] / result.loc[d0] * BASE_LEVEL


@pytest.mark.parametrize("frequency", ["weekly", "monthly"])
def test_index_equals_bt_backtest(frequency: str) -> None:
    prices = _prices()
    assert len(prices) >= 290
    config = StrategyConfig(rebalance_frequency=frequency, max_asset_weight=0.1)
    clean = clean_closes(prices, config.max_forward_fill_days)
    returns = daily_returns(clean, config.min_daily_return, config.max_daily_return)
    assert returns.iloc[1:].abs().max().max() < 0.5  # the clip never binds: bt sees the same returns
    rng = np.random.default_rng(3)
    known = rng.uniform(1e6, 1e9, prices.shape[1])
    shares_long = pd.DataFrame({"symbol": prices.columns, "date": "2022-01-03", "shares_outstanding": known})
    shares = shares_as_of(shares_long, prices.index, prices.columns)
    dates = rebalance_dates(prices.index, frequency)
    targets = target_weights(clean, returns, shares, config, dates)
    d0 = base_date(targets, dates)
    daily, _ = compute_index(returns, targets, d0)

    expected = _bt_levels(prices, targets, d0).reindex(daily["date"])
    assert expected.notna().all()
    np.testing.assert_allclose(daily["level"].to_numpy(), expected.to_numpy(), rtol=1e-9)
    assert daily["is_rebalance"].sum() == len(targets["date"].unique())
