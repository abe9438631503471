"""Risk and performance metrics (spec section 8) on hand-checked numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.domain import metrics as m
from autoindex_pipeline.domain.calendar import sessions_between

# Four returns, checked by hand with min_periods=1 (the default 20 is tested separately).
R = pd.Series([0.10, -0.10, 0.05, 0.0])
B = R / 2  # a benchmark exactly half the index: beta 2, correlation 1
SQRT252 = math.sqrt(252)
# mean .0125; deviations .0875 -.1125 .0375 -.0125; squares sum .021875; / 3 -> var .00729167
STD = math.sqrt(0.021875 / 3)


def test_total_return_and_cagr() -> None:
    # 1.1 * 0.9 * 1.05 * 1.0 = 1.0395
    assert m.total_return(R, min_periods=1) == pytest.approx(0.0395, abs=1e-15)
    assert m.cagr(R, min_periods=1) == pytest.approx(1.0395 ** (252 / 4) - 1, rel=1e-13)


def test_volatility_sharpe_sortino() -> None:
    assert m.volatility(R, min_periods=1) == pytest.approx(STD * SQRT252, rel=1e-13)  # 1.35554
    assert m.sharpe(R, 0.0, min_periods=1) == pytest.approx(0.0125 / STD * SQRT252, rel=1e-13)
    # With rf: every return minus .0252 / 252 = .0001; the std is unchanged.
    assert m.sharpe(R, 0.0252, min_periods=1) == pytest.approx(0.0124 / STD * SQRT252, rel=1e-12)
    # Downside: min(r, 0)**2 = 0, .01, 0, 0 -> mean .0025 -> sqrt .05 (over all 4, not 1).
    # sortino = .0125 * 252 / (.05 * sqrt 252) = 3.15 / .793725 = 3.96863
    assert m.sortino(R, 0.0, min_periods=1) == pytest.approx(0.0125 * 252 / (0.05 * SQRT252), rel=1e-13)


def test_drawdowns_and_calmar() -> None:
    # Levels 100, 110, 99, 103.95, 103.95; peak 110 -> drawdowns 0, 0, -.1, -.055, -.055.
    assert m.max_drawdown(R, min_periods=1) == pytest.approx(-0.1, abs=1e-15)
    assert m.current_drawdown(R, min_periods=1) == pytest.approx(103.95 / 110 - 1, abs=1e-15)
    assert m.calmar(R, min_periods=1) == pytest.approx((1.0395 ** 63 - 1) / 0.1, rel=1e-12)
    # A fall from the very first day counts against the base level 100.
    assert m.max_drawdown([-0.2, 0.1], min_periods=1) == pytest.approx(-0.2)


def test_relative_metrics() -> None:
    assert m.beta(R, B, min_periods=1) == pytest.approx(2.0, rel=1e-13)
    assert m.correlation(R, B, min_periods=1) == pytest.approx(1.0, rel=1e-13)
    # r - b = b: std(b) = STD / 2; tracking error = STD / 2 * sqrt 252
    assert m.tracking_error(R, B, min_periods=1) == pytest.approx(STD / 2 * SQRT252, rel=1e-13)
    # information ratio = mean(r - b) * 252 / TE = .00625 * 252 / (STD / 2 * sqrt 252)
    assert m.information_ratio(R, B, min_periods=1) == pytest.approx(0.00625 * 252 / (STD / 2 * SQRT252), rel=1e-13)
    with pytest.raises(ValueError, match="aligned"):
        m.beta(R, B.iloc[:3], min_periods=1)


def test_var_and_win_rate() -> None:
    # Sorted -.1, 0, .05, .1; position .05 * 3 = .15 -> -.1 + .15 * (0 - -.1) = -.085
    assert m.var_95(R, min_periods=1) == pytest.approx(-0.085, abs=1e-15)
    assert m.win_rate(R, min_periods=1) == 0.5  # the flat day is not a win


def test_fewer_than_20_returns_is_nan_never_zero() -> None:
    rng = np.random.default_rng(1)
    r, b = pd.Series(rng.normal(0, 0.01, 20)), pd.Series(rng.normal(0, 0.01, 20))
    single = [
        m.total_return, m.cagr, m.volatility, m.sharpe, m.sortino,
        m.max_drawdown, m.current_drawdown, m.calmar, m.var_95, m.win_rate,
    ]  # fmt: skip
    pair = [m.beta, m.correlation, m.tracking_error, m.information_ratio]
    for fn in single:
        assert np.isnan(fn(r.iloc[:19])), fn.__name__
        assert np.isfinite(fn(r)), fn.__name__
    for fn in pair:
        assert np.isnan(fn(r.iloc[:19], b.iloc[:19])), fn.__name__
        assert np.isfinite(fn(r, b)), fn.__name__


def test_undefined_ratios_are_nan() -> None:
    flat = pd.Series([0.001] * 25)
    assert m.volatility(flat) == 0.0
    assert np.isnan(m.sharpe(flat, 0.0))  # std 0
    assert np.isnan(m.sortino(flat, 0.0))  # no downside
    assert np.isnan(m.calmar(flat))  # no drawdown
    assert np.isnan(m.beta(flat, flat)) and np.isnan(m.information_ratio(flat, flat))


# --------------------------------------------------------------------------------------------
# Vectorised: every date at once equals the single functions on each prefix
# --------------------------------------------------------------------------------------------


def _daily(seed: int = 4, n: int = 300) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    dates = sessions_between("2022-01-03", "2023-12-29")[: n + 1]
    r = rng.normal(0.0004, 0.012, n)
    b = 0.7 * r + rng.normal(0.0002, 0.006, n)
    return _frame(dates, r), _frame(dates, b)


def _frame(dates: pd.DatetimeIndex, returns: np.ndarray) -> pd.DataFrame:
    """Daily rows from D0 (level 100, no return) as the index engine gives them."""
    levels = 100 * np.concatenate([[1.0], np.cumprod(1 + returns)])
    return pd.DataFrame({"date": dates, "level": levels, "daily_return": np.concatenate([[np.nan], returns])})


@pytest.mark.parametrize("row", [20, 21, 57, 150, 300])
def test_vectorised_equals_single_functions(row: int) -> None:
    index_daily, bench = _daily()
    table = m.metrics_as_of_each_date(index_daily, bench, risk_free_rate=0.05)
    r = index_daily["daily_return"].iloc[1 : row + 1]
    b = bench["daily_return"].iloc[1 : row + 1]
    expected = {
        "total_return": m.total_return(r),
        "cagr": m.cagr(r),
        "volatility": m.volatility(r),
        "sharpe": m.sharpe(r, 0.05),
        "sortino": m.sortino(r, 0.05),
        "max_drawdown": m.max_drawdown(r),
        "current_drawdown": m.current_drawdown(r),
        "calmar": m.calmar(r),
        "beta": m.beta(r, b),
        "correlation": m.correlation(r, b),
        "tracking_error": m.tracking_error(r, b),
        "information_ratio": m.information_ratio(r, b),
        "var_95": m.var_95(r),
        "win_rate": m.win_rate(r),
    }
    got = table.iloc[row]
    assert got["date"] == index_daily["date"].iloc[row] and got["n_returns"] == row
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


def test_vectorised_nan_rules() -> None:
    index_daily, bench = _daily(n=40)
    table = m.metrics_as_of_each_date(index_daily, bench)
    assert list(table.columns) == ["date", "n_returns", *m.METRIC_COLUMNS]
    assert len(table) == len(index_daily)
    assert table.loc[:19, list(m.METRIC_COLUMNS)].isna().all().all()  # rows 0..19 have 0..19 returns
    assert table.loc[20:, list(m.METRIC_COLUMNS)].notna().all().all()
    no_bench = m.metrics_as_of_each_date(index_daily, None)
    assert no_bench[["beta", "correlation", "tracking_error", "information_ratio"]].isna().all().all()
    assert no_bench["sharpe"].iloc[20:].notna().all()


def test_vectorised_flat_series_gives_nan_ratios_not_inf() -> None:
    dates = sessions_between("2024-01-02", "2024-03-01")[:26]
    flat = pd.DataFrame({"date": dates, "level": 100 * 1.001 ** np.arange(26), "daily_return": [np.nan] + [0.001] * 25})
    table = m.metrics_as_of_each_date(flat, flat, risk_free_rate=0.0)
    last = table.iloc[-1]
    assert last["volatility"] == pytest.approx(0.0, abs=1e-15)
    assert np.isnan(last["sortino"]) and np.isnan(last["calmar"]) and np.isnan(last["beta"])
