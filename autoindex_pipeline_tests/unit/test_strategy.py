"""Rebalance calendar and target weights (spec sections 3-6) on hand-checked numbers."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.domain.params import StrategyParams
from autoindex_pipeline.domain.strategy import (
    NoEligibleAssetsError,
    StrategyConfigError,
    base_date,
    cap_weights,
    eligibility,
    lookback_sessions,
    rebalance_dates,
    sentiment_z,
    shares_as_of,
    target_weights,
)

TS = pd.Timestamp


def _dates(*days: str) -> list[pd.Timestamp]:
    return [TS(d) for d in days]


# --------------------------------------------------------------------------------------------
# Rebalance dates
# --------------------------------------------------------------------------------------------


def test_weekly_mid_week_start_is_not_a_rebalance_date() -> None:
    # Sessions start on Wednesday 2024-01-10 (as if the data started there). The first session of
    # the next ISO week is Tuesday 2024-01-16 (Monday the 15th is Martin Luther King Day).
    sessions = sessions_between("2024-01-10", "2024-01-26")
    assert list(rebalance_dates(sessions, "weekly")) == _dates("2024-01-16", "2024-01-22")
    # Same with the full calendar and a mid-week start_date.
    full = sessions_between("2024-01-01", "2024-01-26")
    assert list(rebalance_dates(full, "weekly", start_date="2024-01-10")) == _dates("2024-01-16", "2024-01-22")
    assert list(rebalance_dates(full, "weekly")) == _dates("2024-01-02", "2024-01-08", "2024-01-16", "2024-01-22")


def test_weekly_iso_week_over_a_year_end() -> None:
    # 2014-12-29 (Mon) .. 2015-01-04 is ISO week 2015-W01: one rebalance on 2014-12-29, none on
    # 2015-01-02 although a new calendar year starts there.
    sessions = sessions_between("2014-12-22", "2015-01-09")
    assert list(rebalance_dates(sessions, "weekly")) == _dates("2014-12-22", "2014-12-29", "2015-01-05")
    # Sessions starting on Friday 2015-01-02: its ISO week began in 2014, so it is not a rebalance.
    assert list(rebalance_dates(sessions_between("2015-01-02", "2015-01-09"), "weekly")) == _dates("2015-01-05")
    # 2016-01-01 (Fri, a holiday) belongs to 2015-W53; 2016-W01 starts on Monday 2016-01-04.
    assert list(rebalance_dates(sessions_between("2015-12-24", "2016-01-08"), "weekly")) == _dates(
        "2015-12-28", "2016-01-04"
    )


def test_monthly_and_quarterly() -> None:
    sessions = sessions_between("2024-01-01", "2024-04-30")
    # 2024-01-01 is a holiday: January's first session is the 2nd.
    assert list(rebalance_dates(sessions, "monthly")) == _dates("2024-01-02", "2024-02-01", "2024-03-01", "2024-04-01")
    assert list(rebalance_dates(sessions, "monthly", start_date="2024-01-15")) == _dates(
        "2024-02-01", "2024-03-01", "2024-04-01"
    )
    # Sessions starting mid-month: that first session is not the month's first.
    assert list(rebalance_dates(sessions_between("2024-01-15", "2024-03-05"), "monthly")) == _dates(
        "2024-02-01", "2024-03-01"
    )
    quarterly = rebalance_dates(sessions_between("2023-01-01", "2024-12-31"), "quarterly")
    # 2023-01-02 was the observed New Year holiday.
    assert list(quarterly) == _dates(
        "2023-01-03", "2023-04-03", "2023-07-03", "2023-10-02", "2024-01-02", "2024-04-01", "2024-07-01", "2024-10-01"
    )


def test_daily_and_bad_frequency() -> None:
    sessions = sessions_between("2024-01-02", "2024-01-10")
    assert rebalance_dates(sessions, "daily", start_date="2024-01-04").equals(sessions[2:])
    with pytest.raises(StrategyConfigError, match="rebalance_frequency"):
        rebalance_dates(sessions, "hourly")
    assert rebalance_dates(sessions[:0], "weekly").empty


# --------------------------------------------------------------------------------------------
# A hand-checked rebalance: sessions 2024-01-02..05, D = 2024-01-05
# --------------------------------------------------------------------------------------------

SESSIONS = sessions_between("2024-01-02", "2024-01-05")
D = TS("2024-01-05")
NAN = np.nan

# Returns by session (the first row has no previous close).
#   A: 0, .1, .2   momentum (2 sessions) 1.1*1.2-1 = .32; std([0,.1,.2]) = .1
#   B: .05, .2, -.1  momentum 1.2*0.9-1 = .08; mean .05, devs 0,.15,-.15 -> var .045/2 -> std .15
#   C: -.1, -.2, -.3 momentum .8*.7-1 = -.44; std .1; no shares outstanding
#   P: a penny stock (close .5 < 1): not eligible
#   N: listed on 01-04, one valid return < min_history 2: not eligible
#   SPY: the benchmark, best momentum of all: never a constituent
RETURNS = pd.DataFrame(
    {
        "A": [NAN, 0.0, 0.1, 0.2],
        "B": [NAN, 0.05, 0.2, -0.1],
        "C": [NAN, -0.1, -0.2, -0.3],
        "P": [NAN, 0.1, 0.1, 0.1],
        "N": [NAN, NAN, NAN, 0.1],
        "SPY": [NAN, 0.3, 0.3, 0.3],
    },
    index=SESSIONS,
)
CLOSES = pd.DataFrame(
    {"A": 10.0, "B": 5.0, "C": 20.0, "P": 0.5, "N": [NAN, NAN, 3.0, 3.3], "SPY": 400.0}, index=SESSIONS
)
SHARES_LONG = pd.DataFrame(
    {"symbol": ["A", "B", "P", "N", "SPY"], "date": "2023-06-30", "shares_outstanding": [100.0, 200.0, 1e6, 1e6, 1e9]}
)
SHARES = shares_as_of(SHARES_LONG, SESSIONS, CLOSES.columns)
CONFIG = StrategyParams(momentum_lookback=2, vol_lookback=3, min_history=2)
SLEEVES = ["momentum_weight", "market_cap_weight", "risk_parity_weight"]


def _at_d(targets: pd.DataFrame) -> pd.DataFrame:
    return targets[targets["date"] == D].set_index("symbol")


def test_eligibility() -> None:
    eligible = eligibility(CLOSES, RETURNS, pd.DatetimeIndex([D]), CONFIG)
    assert eligible.loc[D].to_dict() == {"A": True, "B": True, "C": True, "P": False, "N": False, "SPY": False}
    # Without a benchmark name SPY would be eligible: the exclusion is by name, not by data.
    assert eligibility(CLOSES, RETURNS, pd.DatetimeIndex([D]), CONFIG, benchmark=None).loc[D, "SPY"]
    # vol_lookback 60 on 3 sessions of data: count what exists (3 valid returns >= 2).
    wide = eligibility(CLOSES, RETURNS, pd.DatetimeIndex([D]), dataclasses.replace(CONFIG, vol_lookback=60))
    assert wide.loc[D, "A"]


def test_hand_checked_blend_and_contributions() -> None:
    t = _at_d(target_weights(CLOSES, RETURNS, SHARES, CONFIG, pd.DatetimeIndex([D])))
    assert sorted(t.index) == ["A", "B", "C"]  # P, N ineligible; SPY never
    # Sleeves: momentum .32/.40 = .8, .08/.40 = .2, C 0 (negative momentum)
    #          market cap A 10*100 = 1000, B 5*200 = 1000 -> .5/.5, C has no shares -> 0
    #          risk parity 1/s = 10, 6.667, 10 (sum 26.667) -> .375, .25, .375
    np.testing.assert_allclose(t["momentum_sleeve"], [0.8, 0.2, 0.0], atol=1e-12)
    np.testing.assert_allclose(t["market_cap_sleeve"], [0.5, 0.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(t["risk_parity_sleeve"], [0.375, 0.25, 0.375], atol=1e-12)
    # Blend .4/.3/.3 (all sleeves non-empty, so S = 1):
    #   A = .4*.8 + .3*.5 + .3*.375 = .32 + .15 + .1125 = .5825
    #   B = .4*.2 + .3*.5 + .3*.25  = .08 + .15 + .075  = .305
    #   C = 0     + 0     + .3*.375 = .1125
    np.testing.assert_allclose(t["weight"], [0.5825, 0.305, 0.1125], atol=1e-12)
    np.testing.assert_allclose(t["momentum_weight"], [0.32, 0.08, 0.0], atol=1e-12)
    np.testing.assert_allclose(t["market_cap_weight"], [0.15, 0.15, 0.0], atol=1e-12)
    np.testing.assert_allclose(t["risk_parity_weight"], [0.1125, 0.075, 0.1125], atol=1e-12)
    np.testing.assert_allclose(t[SLEEVES].sum(axis=1), t["weight"], atol=1e-15)
    np.testing.assert_allclose(t["momentum_score"], [0.32, 0.08, -0.44], atol=1e-12)
    np.testing.assert_allclose(t["volatility"], [0.1, 0.15, 0.1], atol=1e-12)
    assert t.loc["A", "market_cap"] == 1000.0 and np.isnan(t.loc["C", "market_cap"])


def test_asset_without_shares_only_leaves_the_market_cap_sleeve() -> None:
    # C above: market_cap_sleeve 0 but momentum/risk parity keep it. With no shares at all the
    # market-cap sleeve is empty and the blend renormalises over a + c = .7:
    #   A = (.32 + .1125) / .7 = .617857..., B = (.08 + .075) / .7 = .221428..., C = .1125 / .7
    t = _at_d(target_weights(CLOSES, RETURNS, None, CONFIG, pd.DatetimeIndex([D])))
    np.testing.assert_allclose(t["weight"], [0.4325 / 0.7, 0.155 / 0.7, 0.1125 / 0.7], atol=1e-12)
    np.testing.assert_allclose(t["market_cap_weight"], 0.0)
    np.testing.assert_allclose(t[SLEEVES].sum(axis=1), t["weight"], atol=1e-15)


def test_cap_with_iterative_redistribution() -> None:
    config = dataclasses.replace(CONFIG, max_asset_weight=0.4)
    t = _at_d(target_weights(CLOSES, RETURNS, SHARES, config, pd.DatetimeIndex([D])))
    # Pass 1: A .5825 -> .4; the .6 left goes to B, C pro rata .305 : .1125
    #         B = .6 * .305 / .4175 = .43832 > .4 -> pass 2: A, B at .4, C gets 1 - .8 = .2.
    np.testing.assert_allclose(t["weight"], [0.4, 0.4, 0.2], atol=1e-12)
    # Contributions keep each asset's sleeve mix: A's momentum share is .32 / .5825.
    assert t.loc["A", "momentum_weight"] == pytest.approx(0.4 * 0.32 / 0.5825, abs=1e-12)
    assert t.loc["C", "risk_parity_weight"] == pytest.approx(0.2, abs=1e-12)
    np.testing.assert_allclose(t[SLEEVES].sum(axis=1), t["weight"], atol=1e-15)


def test_infeasible_cap_is_a_configuration_error() -> None:
    config = dataclasses.replace(CONFIG, max_asset_weight=0.3)  # .3 * 3 eligible = .9 < 1
    with pytest.raises(StrategyConfigError, match="max_asset_weight"):
        target_weights(CLOSES, RETURNS, SHARES, config, pd.DatetimeIndex([D]))


def test_cap_spreads_equally_when_uncapped_assets_weigh_nothing() -> None:
    # Pro rata to two zero weights is undefined: the .5 left is shared equally.
    w = cap_weights(np.array([[1.0, 0.0, 0.0]]), np.array([[True, True, True]]), 0.5)
    np.testing.assert_allclose(w, [[0.5, 0.25, 0.25]])
    # Momentum only: A .8, B .2, C 0 (negative momentum). Cap .4: A -> .4, B gets the .6 -> over,
    # capped at .4; the last .2 has only C (weight 0) left: C = .2, contributions all momentum.
    config = dataclasses.replace(
        CONFIG, momentum_weight=1.0, market_cap_weight=0.0, risk_parity_weight=0.0, max_asset_weight=0.4
    )
    t = _at_d(target_weights(CLOSES, RETURNS, SHARES, config, pd.DatetimeIndex([D])))
    np.testing.assert_allclose(t["weight"], [0.4, 0.4, 0.2], atol=1e-12)
    np.testing.assert_allclose(t["momentum_weight"], t["weight"], atol=1e-15)
    np.testing.assert_allclose(t[SLEEVES].sum(axis=1), t["weight"], atol=1e-15)


def _unchecked(params: StrategyParams, **changes: object) -> StrategyParams:
    """A copy with ``changes`` applied past validation, to test the maths outside the bounds."""
    out = copy.copy(params)
    for key, value in changes.items():
        object.__setattr__(out, key, value)
    return out


def test_sentiment_tilt() -> None:
    z = pd.DataFrame({"A": 1.0, "B": -1.0}, index=SESSIONS)  # C: no articles -> 0
    config = dataclasses.replace(CONFIG, sentiment_tilt=0.5)
    t = _at_d(target_weights(CLOSES, RETURNS, SHARES, config, pd.DatetimeIndex([D]), sentiment=z))
    # A .5825 * 1.5 = .87375, B .305 * .5 = .1525, C .1125 * 1 -> sum 1.13875
    np.testing.assert_allclose(t["weight"], np.array([0.87375, 0.1525, 0.1125]) / 1.13875, atol=1e-12)
    np.testing.assert_allclose(t["sentiment_z"], [1.0, -1.0, 0.0])
    np.testing.assert_allclose(t[SLEEVES].sum(axis=1), t["weight"], atol=1e-15)
    # A tilt beyond 1 would make B negative: floored at 0 (long only), B dropped. The parameters
    # refuse such a tilt, so the floor is checked on an unvalidated copy.
    t2 = _at_d(target_weights(CLOSES, RETURNS, SHARES, _unchecked(CONFIG, sentiment_tilt=2.0), [D], sentiment=z))
    assert "B" not in t2.index
    np.testing.assert_allclose(t2["weight"], np.array([0.5825 * 3, 0.1125]) / (0.5825 * 3 + 0.1125), atol=1e-12)
    # Every weight tilted to 0: the untilted blend stands.
    z_all = pd.DataFrame(-1.0, index=SESSIONS, columns=CLOSES.columns)
    t3 = _at_d(target_weights(CLOSES, RETURNS, SHARES, dataclasses.replace(CONFIG, sentiment_tilt=1.0), [D], sentiment=z_all))
    np.testing.assert_allclose(t3["weight"], [0.5825, 0.305, 0.1125], atol=1e-12)


def test_all_momentum_negative_gives_an_equal_weight_sleeve() -> None:
    returns = RETURNS.copy()
    returns[["A", "B"]] = -returns[["A", "B"]].abs() - 0.01  # every momentum now negative
    config = dataclasses.replace(CONFIG, momentum_weight=1.0, market_cap_weight=0.0, risk_parity_weight=0.0)
    t = _at_d(target_weights(CLOSES, returns, SHARES, config, pd.DatetimeIndex([D])))
    np.testing.assert_allclose(t["weight"], [1 / 3] * 3, atol=1e-15)
    np.testing.assert_allclose(t["momentum_weight"], [1 / 3] * 3, atol=1e-15)


def test_zero_volatility_asset_is_excluded_from_risk_parity_only() -> None:
    returns = RETURNS.assign(Z=[NAN, 0.0, 0.0, 0.0], K=[NAN, 0.01, 0.01, 0.01])
    closes = CLOSES.assign(Z=10.0, K=10.0)
    shares = shares_as_of(
        pd.concat([SHARES_LONG, pd.DataFrame({"symbol": ["Z", "K"], "date": "2023-06-30", "shares_outstanding": 100.0})]),
        SESSIONS,
        closes.columns,
    )
    t = _at_d(target_weights(closes, returns, shares, CONFIG, pd.DatetimeIndex([D])))
    # Z (flat) and K (a constant .01 a day: std exactly 0, not an ulp) are held through the
    # market-cap sleeve (and K through momentum) but have no risk-parity weight.
    assert {"Z", "K"} <= set(t.index)
    assert t.loc["Z", "volatility"] == 0.0 and t.loc["K", "volatility"] == 0.0
    assert t.loc["Z", "risk_parity_sleeve"] == 0.0 and t.loc["K", "risk_parity_sleeve"] == 0.0
    assert t.loc["Z", "market_cap_sleeve"] > 0 and t.loc["K", "momentum_sleeve"] > 0
    np.testing.assert_allclose(t["risk_parity_sleeve"].sum(), 1.0)


def test_benchmark_is_never_a_constituent() -> None:
    t = target_weights(CLOSES, RETURNS, SHARES, CONFIG, pd.DatetimeIndex([D]))
    assert "SPY" not in set(t["symbol"])
    renamed = {"A": "QQQ"}
    other = target_weights(
        CLOSES.rename(columns=renamed), RETURNS.rename(columns=renamed), None, CONFIG, [D], benchmark="QQQ"
    )
    assert "QQQ" not in set(other["symbol"]) and "SPY" in set(other["symbol"])


# --------------------------------------------------------------------------------------------
# Universe changes, empty dates, base date
# --------------------------------------------------------------------------------------------


def test_assets_entering_and_leaving_the_universe() -> None:
    sessions = sessions_between("2024-02-01", "2024-02-14")  # 10 sessions
    closes = pd.DataFrame(
        {
            "OLD": [10.0] * 5 + [10.0, 10.0] + [NAN] * 3,  # delisted: last close on row 4, filled rows 5-6
            "NEW": [NAN] * 5 + [20.0, 21.0, 22.0, 23.0, 24.0],  # listed on row 5
        },
        index=sessions,
    )
    raw = closes.copy()
    raw.iloc[5:7, 0] = NAN  # what the warehouse has: nothing after row 4 (filled by cleaning)
    from autoindex_pipeline.domain.cleaning import clean_closes, daily_returns

    clean = clean_closes(raw, 2)
    returns = daily_returns(clean, -0.5, 0.5)
    eligible = eligibility(clean, returns, sessions, CONFIG)
    # OLD: eligible while its (filled) close exists: rows 2..6 (row 1 has 1 return < 2).
    assert eligible["OLD"].tolist() == [False, False, True, True, True, True, True, False, False, False]
    # NEW: first return on row 6, second on row 7 -> eligible from row 7.
    assert eligible["NEW"].tolist() == [False] * 7 + [True] * 3


def test_range_without_eligible_assets() -> None:
    early = pd.DatetimeIndex([SESSIONS[0], SESSIONS[1]])  # fewer than 2 returns anywhere
    targets = target_weights(CLOSES, RETURNS, SHARES, CONFIG, early)
    assert targets.empty and list(targets.columns)[:3] == ["date", "symbol", "weight"]
    with pytest.raises(NoEligibleAssetsError, match="2024-01-02 to 2024-01-03"):
        base_date(targets, early)


def test_base_date_is_first_rebalance_with_an_eligible_asset() -> None:
    targets = target_weights(CLOSES, RETURNS, SHARES, CONFIG, SESSIONS)
    # Row 2 (01-04) is the first with 2 valid returns.
    assert sorted(targets["date"].unique()) == [TS("2024-01-04"), TS("2024-01-05")]
    assert base_date(targets, SESSIONS) == TS("2024-01-04")
    assert base_date(targets, SESSIONS, start_date="2024-01-05") == D
    np.testing.assert_allclose(targets.groupby("date")["weight"].sum(), 1.0, atol=1e-15)


def test_dates_outside_the_frame_are_rejected() -> None:
    with pytest.raises(ValueError, match="not in the price frame"):
        target_weights(CLOSES, RETURNS, SHARES, CONFIG, pd.DatetimeIndex([TS("2024-02-01")]))


def test_lookback_sessions_reproduce_the_full_history() -> None:
    rng = np.random.default_rng(11)
    sessions = sessions_between("2023-01-03", "2023-12-29")
    walks = np.exp(np.cumsum(rng.normal(0, 0.02, (len(sessions), 6)), axis=0)) * 50
    closes = pd.DataFrame(walks, index=sessions, columns=list("ABCDEF"))
    # A halt on the sessions before the first return of the window: filled from 3 sessions back.
    closes.iloc[-62:-60, 2] = NAN
    from autoindex_pipeline.domain.cleaning import clean_closes, daily_returns

    config = StrategyParams()
    clean = clean_closes(closes, 2)
    full = target_weights(clean, daily_returns(clean, -0.5, 0.5), None, config, sessions[-1:])
    trimmed_closes = clean_closes(closes.iloc[-lookback_sessions(config) :], 2)
    trimmed = target_weights(trimmed_closes, daily_returns(trimmed_closes, -0.5, 0.5), None, config, sessions[-1:])
    pd.testing.assert_frame_equal(full, trimmed, check_exact=False, rtol=1e-13, atol=1e-15)


# --------------------------------------------------------------------------------------------
# Point-in-time inputs
# --------------------------------------------------------------------------------------------


def test_shares_as_of_is_point_in_time() -> None:
    sessions = sessions_between("2024-03-01", "2024-03-12")  # Fri 1, Mon 4 .. Fri 8, Mon 11, Tue 12
    shares = pd.DataFrame(
        {
            "symbol": ["A", "A", "A", "A", "B"],
            "date": ["2024-02-01", "2024-03-02", "2024-03-07", "2024-03-08", "2024-03-11"],
            "shares_outstanding": [100.0, 110.0, -5.0, 120.0, 50.0],
        }
    )
    out = shares_as_of(shares, sessions, ["A", "B", "C"])
    # A: 100 until the Saturday figure (03-02) applies from Monday 03-04; the negative figure of
    # 03-07 is ignored; 120 from 03-08. B unknown until 03-11. C never known.
    assert out["A"].tolist() == [100.0, 110.0, 110.0, 110.0, 110.0, 120.0, 120.0, 120.0]
    assert out["B"].isna().sum() == 6 and out["B"].iloc[-2:].tolist() == [50.0, 50.0]
    assert out["C"].isna().all()


def test_sentiment_z_weights_by_article_count_over_the_window() -> None:
    sessions = sessions_between("2024-03-04", "2024-03-08")  # Mon..Fri
    daily = pd.DataFrame(
        {
            "symbol": ["A", "A", "A", "A", "B"],
            "date": ["2024-03-02", "2024-03-03", "2024-03-05", "2024-03-07", "2024-03-05"],
            "article_count": [2, 1, 1, 4, 1],
            "mean_score": [0.5, -0.4, 0.9, 0.0, -0.3],
        }
    )
    z = sentiment_z(daily, sessions, window_days=3, symbols=["A", "B", "C"])
    # A on Mon 03-04: days 03-02..03-04 -> (2*.5 + 1*-.4) / 3 = .2
    # Tue 03-05: days 03-03..05 -> (-.4 + .9) / 2 = .25.  Wed 03-06: 03-04..06 -> .9
    # Thu 03-07: 03-05..07 -> (.9 + 4*0) / 5 = .18.  Fri 03-08: 03-06..08 -> 0 / 4 = 0
    np.testing.assert_allclose(z["A"], [0.2, 0.25, 0.9, 0.18, 0.0], atol=1e-15)
    np.testing.assert_allclose(z["B"], [0.0, -0.3, -0.3, -0.3, 0.0], atol=1e-15)
    np.testing.assert_allclose(z["C"], 0.0)
    # Point in time: an article dated after D never changes z at D.
    late_article = pd.DataFrame({"symbol": ["A"], "date": ["2024-03-06"], "article_count": [9], "mean_score": [-1.0]})
    later = pd.concat([daily, late_article])
    z2 = sentiment_z(later, sessions, window_days=3, symbols=["A", "B", "C"])
    pd.testing.assert_frame_equal(z.iloc[:2], z2.iloc[:2], check_exact=True)


def test_invariants_on_random_data() -> None:
    rng = np.random.default_rng(2)
    sessions = sessions_between("2023-01-03", "2023-09-29")
    symbols = [f"S{i:02d}" for i in range(25)] + ["SPY"]
    closes = pd.DataFrame(
        np.exp(np.cumsum(rng.normal(0, 0.02, (len(sessions), len(symbols))), axis=0)) * rng.uniform(0.5, 50, len(symbols)),
        index=sessions,
        columns=symbols,
    )
    closes = closes.mask(rng.random(closes.shape) < 0.03)  # scattered gaps
    from autoindex_pipeline.domain.cleaning import clean_closes, daily_returns

    clean = clean_closes(closes, 2)
    returns = daily_returns(clean, -0.5, 0.5)
    shares_long = pd.DataFrame({"symbol": symbols[::2], "date": "2022-12-30", "shares_outstanding": 1e6})
    z = pd.DataFrame(rng.uniform(-1, 1, closes.shape), index=sessions, columns=symbols)
    config = StrategyParams(max_asset_weight=0.08, sentiment_tilt=0.4)
    dates = rebalance_dates(sessions, "weekly")
    t = target_weights(clean, returns, shares_as_of(shares_long, sessions, symbols), config, dates, sentiment=z)
    assert "SPY" not in set(t["symbol"])
    sums = t.groupby("date")["weight"].sum()
    np.testing.assert_allclose(sums, 1.0, atol=1e-12)
    assert t["weight"].max() <= 0.08 + 1e-12 and t["weight"].min() >= 1e-12
    np.testing.assert_allclose(t[SLEEVES].sum(axis=1), t["weight"], atol=1e-15)
    np.testing.assert_allclose(t.groupby("date")["momentum_sleeve"].sum(), 1.0, atol=1e-12)


def test_parameters_validate_without_the_configuration_stack():
    from autoindex_pipeline.domain.params import StrategyParamsError

    with pytest.raises(StrategyParamsError, match="momentum_weight: Input should be greater than or equal to 0"):
        StrategyParams(momentum_weight=-0.1)
    with pytest.raises(StrategyParamsError, match="must be > 0"):
        StrategyParams(momentum_weight=0, market_cap_weight=0, risk_parity_weight=0)
    with pytest.raises(StrategyParamsError, match="rebalance_frequency: Input should be"):
        StrategyParams(rebalance_frequency="hourly")
    with pytest.raises(StrategyParamsError, match="min_history: Input should be a valid integer"):
        dataclasses.replace(CONFIG, min_history="2")


def test_the_strategy_module_imports_no_configuration_or_io_library():
    import subprocess
    import sys

    code = (
        "import sys, autoindex_pipeline.domain.strategy\n"
        "heavy = {'pydantic', 'yaml', 'httpx', 'tenacity', 'sqlalchemy', 'dagster'}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy or m == 'autoindex_pipeline.config')\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
