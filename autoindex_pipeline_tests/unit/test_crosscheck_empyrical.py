"""Our metrics against empyrical(-reloaded) and ffn, where the conventions are the spec's.

Same conventions (asserted equal):
- empyrical ``sharpe_ratio(risk_free=rf/252)``, ``sortino_ratio(required_return=rf/252)``,
  ``annual_volatility``, ``max_drawdown``, ``cagr`` (252 returns a year), ``calmar_ratio``
  (whole window), ``beta`` (ddof cancels), ``value_at_risk(cutoff=.05)`` (linear percentile),
  ``cum_returns_final``, and ``excess_sharpe * sqrt(252)`` = our information ratio;
- ffn ``calc_sharpe`` / ``calc_sortino_ratio`` given the risk-free rate as a per-period series
  ``rf/252``, and ``calc_max_drawdown`` on levels.

Different conventions (not asserted):
- ffn with a *scalar* rf de-annualises geometrically, ``(1 + rf) ** (1/252) - 1``, not ``rf/252``;
- ffn ``calc_cagr`` counts calendar years between the first and last dates, not 252 sessions;
- empyrical ``alpha`` is not a spec metric; empyrical has no tracking error (ours is
  ``std(r - b, ddof=1) * sqrt(252)``) nor win rate.
Both libraries are dev-only dependencies: the tests skip when they are not installed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.domain import metrics as m
from autoindex_pipeline.domain.calendar import sessions_between

empyrical = pytest.importorskip("empyrical")
ffn = pytest.importorskip("ffn")

RF = 0.05


@pytest.fixture(scope="module")
def series() -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(17)
    dates = sessions_between("2022-01-03", "2023-12-29")[:400]
    r = pd.Series(rng.normal(0.0004, 0.012, len(dates)), index=dates)
    b = pd.Series(0.8 * r.to_numpy() + rng.normal(0.0001, 0.005, len(dates)), index=dates)
    return r, b


def test_single_series_metrics_match_empyrical(series: tuple[pd.Series, pd.Series]) -> None:
    r, _ = series
    rf_d = RF / 252
    checks = {
        "total_return": (m.total_return(r), empyrical.cum_returns_final(r)),
        "cagr": (m.cagr(r), empyrical.cagr(r)),
        "volatility": (m.volatility(r), empyrical.annual_volatility(r)),
        "sharpe": (m.sharpe(r, RF), empyrical.sharpe_ratio(r, risk_free=rf_d)),
        "sortino": (m.sortino(r, RF), empyrical.sortino_ratio(r, required_return=rf_d)),
        "max_drawdown": (m.max_drawdown(r), empyrical.max_drawdown(r)),
        "calmar": (m.calmar(r), empyrical.calmar_ratio(r)),
        "var_95": (m.var_95(r), empyrical.value_at_risk(r, cutoff=0.05)),
    }
    for name, (ours, theirs) in checks.items():
        assert ours == pytest.approx(float(theirs), rel=1e-10), name


def test_relative_metrics_match_empyrical(series: tuple[pd.Series, pd.Series]) -> None:
    r, b = series
    assert m.beta(r, b) == pytest.approx(float(empyrical.beta(r, b)), rel=1e-10)
    assert m.information_ratio(r, b) == pytest.approx(float(empyrical.excess_sharpe(r, b)) * np.sqrt(252), rel=1e-10)
    assert m.correlation(r, b) == pytest.approx(float(np.corrcoef(r, b)[0, 1]), rel=1e-10)


def test_metrics_match_ffn(series: tuple[pd.Series, pd.Series]) -> None:
    r, _ = series
    rf_series = pd.Series(RF / 252, index=r.index)
    levels = pd.concat([pd.Series([100.0], index=[r.index[0] - pd.Timedelta(days=1)]), 100 * (1 + r).cumprod()])
    assert m.sharpe(r, RF) == pytest.approx(float(ffn.calc_sharpe(r, rf=rf_series, nperiods=252)), rel=1e-10)
    assert m.sortino(r, RF) == pytest.approx(float(ffn.calc_sortino_ratio(r, rf=rf_series, nperiods=252)), rel=1e-10)
    assert m.max_drawdown(r) == pytest.approx(float(ffn.calc_max_drawdown(levels)), rel=1e-10)
    # A scalar rf is de-annualised geometrically by ffn: a different (documented) convention.
    assert m.sharpe(r, RF) != pytest.approx(float(ffn.calc_sharpe(r, rf=RF, nperiods=252)), rel=1e-10)


def test_vectorised_table_matches_empyrical_on_the_last_date(series: tuple[pd.Series, pd.Series]) -> None:
    r, b = series
    dates = r.index.insert(0, r.index[0] - pd.Timedelta(days=1))
    levels = 100 * np.concatenate([[1.0], np.cumprod(1 + r)])
    index_daily = pd.DataFrame({"date": dates, "level": levels, "daily_return": np.concatenate([[np.nan], r])})
    bench = pd.DataFrame({"date": dates, "daily_return": np.concatenate([[np.nan], b])})
    last = m.metrics_as_of_each_date(index_daily, bench, RF).iloc[-1]
    assert last["sharpe"] == pytest.approx(float(empyrical.sharpe_ratio(r, risk_free=RF / 252)), rel=1e-10)
    assert last["sortino"] == pytest.approx(float(empyrical.sortino_ratio(r, required_return=RF / 252)), rel=1e-10)
    assert last["beta"] == pytest.approx(float(empyrical.beta(r, b)), rel=1e-10)
    assert last["max_drawdown"] == pytest.approx(float(empyrical.max_drawdown(r)), rel=1e-10)
