"""Index level (spec section 7): hand-checked numbers, point in time, incremental = full."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.config import StrategyConfig
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.domain.cleaning import clean_closes, daily_returns
from autoindex_pipeline.domain.index import IndexState, benchmark_levels, compute_index
from autoindex_pipeline.domain.strategy import base_date, rebalance_dates, sentiment_z, shares_as_of, target_weights

TS = pd.Timestamp
NAN = np.nan
SESSIONS = sessions_between("2024-01-02", "2024-01-08")  # Jan 2, 3, 4, 5, 8


def _targets(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["date", "symbol", "weight"]).assign(date=lambda f: pd.to_datetime(f["date"]))


def test_hand_checked_drift_rebalance_and_cost() -> None:
    returns = pd.DataFrame(
        {"A": [NAN, 0.10, 0.0, 0.0, 0.10], "B": [NAN, 0.0, 0.10, 0.0, -0.10]}, index=SESSIONS
    )
    targets = _targets([("2024-01-02", "A", 0.5), ("2024-01-02", "B", 0.5), ("2024-01-05", "A", 0.8), ("2024-01-05", "B", 0.2)])
    daily, state = compute_index(returns, targets, "2024-01-02", transaction_cost_bps=10.0)
    # Jan 2 (D0): 100, holding A .5 B .5.
    # Jan 3: R = .5*.10 = .05 -> 105; h_A = .5*1.1/1.05 = .5238, h_B = .4762 (values 55 / 50).
    # Jan 4: R = .4762*.10 = .047619 -> 110 (values 55 / 55).
    # Jan 5: rebalance; returns 0 -> 110; drifted .5/.5; turnover |.8-.5| + |.2-.5| = .6;
    #        cost 10 bps * .6 = .0006 -> 110 * .9994 = 109.934.
    # Jan 8: R = .8*.10 + .2*-.10 = .06 -> 109.934 * 1.06 = 116.53004.
    np.testing.assert_allclose(daily["level"], [100.0, 105.0, 110.0, 109.934, 116.53004], rtol=1e-13)
    np.testing.assert_allclose(daily["daily_return"].iloc[1:], [0.05, 110 / 105 - 1, -0.0006, 0.06], rtol=1e-12)
    assert np.isnan(daily["daily_return"].iloc[0]) and np.isnan(daily["turnover"].iloc[0])
    np.testing.assert_allclose(daily["turnover"].iloc[1:], [0.0, 0.0, 0.6, 0.0], atol=1e-15)
    np.testing.assert_allclose(daily["cost"], [0.0, 0.0, 0.0, 0.0006, 0.0], atol=1e-15)
    assert daily["is_rebalance"].tolist() == [True, False, False, True, False]
    # After Jan 8: A .8*1.1/1.06, B .2*.9/1.06.
    assert state.date == TS("2024-01-08") and state.level == pytest.approx(116.53004, rel=1e-13)
    np.testing.assert_allclose(state.holdings[["A", "B"]], [0.88 / 1.06, 0.18 / 1.06], rtol=1e-13)


def test_missing_return_counts_as_zero() -> None:
    returns = pd.DataFrame({"A": [NAN, NAN, 0.0], "B": [NAN, 0.10, 0.0]}, index=SESSIONS[:3])
    daily, state = compute_index(returns, _targets([("2024-01-02", "A", 0.5), ("2024-01-02", "B", 0.5)]), "2024-01-02")
    # Jan 3: A missing -> 0; R = .5*.1 = .05 -> 105; A keeps its value 50 -> h_A = 50/105.
    assert daily["level"].tolist()[:2] == [100.0, pytest.approx(105.0, rel=1e-14)]
    assert state.holdings["A"] == pytest.approx(50 / 105, rel=1e-14)


def test_split_in_raw_prices_costs_the_index_half_the_holding() -> None:
    # Raw (unadjusted) closes: B splits 2:1 on Jan 4. Cleaning does not adjust: r = -.5, inside
    # the clip, so the index, holding B at ~.5, books R = .5*0 + .5*(-.5) = -.25.
    closes = pd.DataFrame({"A": [10.0, 10.0, 10.0], "B": [100.0, 100.0, 50.0]}, index=SESSIONS[:3])
    returns = daily_returns(clean_closes(closes, 2), -0.5, 0.5)
    daily, _ = compute_index(returns, _targets([("2024-01-02", "A", 0.5), ("2024-01-02", "B", 0.5)]), "2024-01-02")
    assert daily["level"].tolist() == [100.0, 100.0, 75.0]


def test_asset_below_threshold_between_rebalances_stays_held() -> None:
    # A falls from 1.2 to .9 (below min_price_threshold 1) the day after D0: it is still held and
    # its real return (-25%) counts; the next rebalance (not here) would drop it.
    closes = pd.DataFrame({"A": [1.2, 0.9, 0.9], "B": [10.0, 10.0, 10.0]}, index=SESSIONS[:3])
    returns = daily_returns(clean_closes(closes, 2), -0.5, 0.5)
    daily, state = compute_index(returns, _targets([("2024-01-02", "A", 0.5), ("2024-01-02", "B", 0.5)]), "2024-01-02")
    np.testing.assert_allclose(daily["level"], [100.0, 87.5, 87.5])
    assert state.holdings["A"] == pytest.approx(0.375 / 0.875)


def test_rebalance_date_without_targets_keeps_holdings() -> None:
    returns = pd.DataFrame({"A": [NAN, 0.1, 0.1, 0.1, 0.1]}, index=SESSIONS)
    daily, state = compute_index(returns, _targets([("2024-01-02", "A", 1.0)]), "2024-01-02", transaction_cost_bps=50)
    np.testing.assert_allclose(daily["level"], 100 * 1.1 ** np.arange(5), rtol=1e-14)
    assert daily["is_rebalance"].tolist() == [True, False, False, False, False]
    assert daily["cost"].sum() == 0.0 and state.holdings.to_dict() == {"A": 1.0}


def test_no_targets_at_base_date_is_an_error() -> None:
    returns = pd.DataFrame({"A": [NAN, 0.1]}, index=SESSIONS[:2])
    with pytest.raises(ValueError, match="base date"):
        compute_index(returns, _targets([("2024-01-03", "A", 1.0)]), "2024-01-02")


def test_benchmark_levels_compound_cleaned_returns() -> None:
    b = pd.Series([0.3, 0.1, NAN, -0.5, 0.2], index=SESSIONS)
    out = benchmark_levels(b, "2024-01-03")
    # Base at the close of Jan 3 (its own return is before the base): 100; Jan 4 missing -> 0;
    # Jan 5: 100 * .5 = 50; Jan 8: 50 * 1.2 = 60.
    assert out["date"].tolist() == list(SESSIONS[1:])
    np.testing.assert_allclose(out["level"], [100.0, 100.0, 50.0, 60.0])
    np.testing.assert_allclose(out["daily_return"].iloc[1:], [0.0, -0.5, 0.2])
    tail = benchmark_levels(b, "2024-01-05", level_at_base=50.0, include_base=False)
    assert tail["date"].tolist() == [TS("2024-01-08")] and tail["level"].tolist() == [60.0]


def test_state_round_trips_through_json() -> None:
    state = IndexState(date=TS("2024-01-05"), level=101.23456789012345, holdings=pd.Series({"A": 1 / 3, "B": 2 / 3}))
    back = IndexState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert back.date == state.date and back.level == state.level
    pd.testing.assert_series_equal(back.holdings, state.holdings, check_names=False)


# --------------------------------------------------------------------------------------------
# The whole chain on random data: point in time, incremental = full
# --------------------------------------------------------------------------------------------

CONFIG = StrategyConfig(vol_lookback=30, min_history=10, momentum_lookback=10, transaction_cost_bps=5.0, sentiment_tilt=0.3)
CHAIN_SESSIONS = sessions_between("2023-01-03", "2023-08-31")


def _raw(seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n, k = len(CHAIN_SESSIONS), 8
    symbols = [f"S{i}" for i in range(k)] + ["SPY"]
    closes = pd.DataFrame(
        30 * np.exp(np.cumsum(rng.normal(0.0005, 0.02, (n, k + 1)), axis=0)), index=CHAIN_SESSIONS, columns=symbols
    )
    closes.iloc[40:45, 1] = NAN  # a halt longer than the fill limit
    closes.iloc[:60, 2] = NAN  # listed later
    closes.iloc[100:, 3] = NAN  # delisted
    shares = pd.DataFrame(
        {
            "symbol": symbols * 2,
            "date": ["2022-12-01"] * (k + 1) + ["2023-05-01"] * (k + 1),
            "shares_outstanding": rng.uniform(1e6, 1e8, 2 * (k + 1)),
        }
    )
    shares = shares[shares["symbol"] != "S4"]  # never known
    days = pd.date_range("2023-01-01", "2023-08-31", freq="D")
    news = pd.DataFrame(
        {
            "symbol": rng.choice(symbols, 300),
            "date": rng.choice(days, 300),
            "article_count": rng.integers(1, 4, 300),
            "mean_score": rng.uniform(-1, 1, 300),
        }
    ).drop_duplicates(["symbol", "date"])
    return closes, shares, news


def _chain(closes: pd.DataFrame, shares: pd.DataFrame, news: pd.DataFrame):
    clean = clean_closes(closes, CONFIG.max_forward_fill_days)
    returns = daily_returns(clean, CONFIG.min_daily_return, CONFIG.max_daily_return)
    pit = shares_as_of(shares, CHAIN_SESSIONS, clean.columns)
    z = sentiment_z(news, CHAIN_SESSIONS, CONFIG.sentiment_window_days, clean.columns)
    dates = rebalance_dates(CHAIN_SESSIONS, "weekly", "2023-01-04")
    targets = target_weights(clean, returns, pit, CONFIG, dates, sentiment=z)
    d0 = base_date(targets, dates)
    daily, state = compute_index(returns, targets, d0, CONFIG.transaction_cost_bps)
    return returns, targets, d0, daily, state


def test_point_in_time_perturbing_the_future_changes_nothing_up_to_d() -> None:
    closes, shares, news = _raw()
    _, targets, d0, daily, _ = _chain(closes, shares, news)
    d = TS("2023-05-15")  # a Monday: a rebalance date inside the range
    assert d in set(targets["date"])
    rng = np.random.default_rng(99)
    future = closes.index > d
    perturbed = closes.copy()
    perturbed.loc[future] = closes.loc[future] * rng.uniform(0.5, 1.5, (future.sum(), closes.shape[1]))
    later_shares = pd.concat([shares, pd.DataFrame({"symbol": ["S0"], "date": ["2023-05-16"], "shares_outstanding": [1e12]})])
    late_article = pd.DataFrame({"symbol": ["S1"], "date": ["2023-05-16"], "article_count": [50], "mean_score": [-1.0]})
    later_news = pd.concat([news, late_article])
    _, targets2, d02, daily2, _ = _chain(perturbed, later_shares, later_news)
    assert d02 == d0
    before = targets[targets["date"] <= d].reset_index(drop=True)
    pd.testing.assert_frame_equal(before, targets2[targets2["date"] <= d].reset_index(drop=True), check_exact=True)
    up_to_d = daily["date"] <= d
    np.testing.assert_allclose(daily2.loc[up_to_d, "level"], daily.loc[up_to_d, "level"], rtol=1e-13)
    # ... and the future did change: the test would notice a leak.
    assert not np.allclose(daily2.loc[~up_to_d, "level"], daily.loc[~up_to_d, "level"])
    assert not targets[targets["date"] > d].reset_index(drop=True).equals(targets2[targets2["date"] > d].reset_index(drop=True))


@pytest.mark.parametrize("k", [0, 1, 17, 40, 80])
def test_incremental_equals_full(k: int) -> None:
    returns, targets, d0, daily, final = _chain(*_raw())
    cut = daily["date"].iloc[k]  # k = 0 is D0 itself; the others land on and between rebalances
    _, state = compute_index(returns, targets, d0, CONFIG.transaction_cost_bps, end=cut)
    stored = IndexState.from_dict(json.loads(json.dumps(state.to_dict())))
    rest, final2 = compute_index(returns, targets, d0, CONFIG.transaction_cost_bps, state=stored)
    full_rest = daily[daily["date"] > cut].reset_index(drop=True)
    assert rest["date"].tolist() == full_rest["date"].tolist()
    np.testing.assert_allclose(rest["level"], full_rest["level"], rtol=1e-9)
    np.testing.assert_allclose(rest["daily_return"], full_rest["daily_return"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(rest["turnover"], full_rest["turnover"], rtol=1e-9, atol=1e-12)
    assert rest["is_rebalance"].tolist() == full_rest["is_rebalance"].tolist()
    assert final2.level == pytest.approx(final.level, rel=1e-9)
    pd.testing.assert_series_equal(final2.holdings.sort_index(), final.holdings.sort_index(), rtol=1e-9, check_names=False)


def test_one_session_at_a_time_equals_full() -> None:
    returns, targets, d0, daily, final = _chain(*_raw(seed=8))
    _, state = compute_index(returns, targets, d0, CONFIG.transaction_cost_bps, end=d0)
    levels = [state.level]
    for day in daily["date"].iloc[1:]:
        step, state = compute_index(returns, targets, d0, CONFIG.transaction_cost_bps, state=state, end=day)
        assert len(step) == 1
        levels.append(step["level"].iloc[0])
    np.testing.assert_allclose(levels, daily["level"], rtol=1e-9)
    assert daily["turnover"].iloc[1:].gt(0).any() and daily["cost"].gt(0).any()  # costs were exercised
