"""Risk and performance metrics (methodology section 8), ffn/empyrical style.

One small pure function per metric. Each takes the index's daily returns after the base date
(``r``, a complete series: the index engine never leaves a gap) and, for the relative metrics,
the benchmark's daily returns on the same dates (``b``). Shared conventions:

- 252 periods a year; the daily risk-free rate is ``rf_d = risk_free_rate / 252`` (simple);
- standard deviations are sample ones (ddof = 1);
- a metric needs at least ``min_periods`` (20) returns, else it is NaN (stored as NULL), never 0;
- a ratio whose denominator is 0 (a flat series, no drawdown, no downside) is NaN, not inf;
- a series of identical values has a standard deviation of exactly 0 (not an ulp-sized number
  from the floating-point mean).

``metrics_as_of_each_date`` gives every metric for every date from D0 over the expanding window
D0..t in one vectorised pass (cumulative sums, expanding quantile, running maxima); it equals
calling the single functions on each prefix (tested to 1e-12).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TRADING_DAYS = 252
MIN_RETURNS = 20
DEFAULT_RISK_FREE_RATE = 0.05

METRIC_COLUMNS = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "current_drawdown",
    "calmar",
    "beta",
    "correlation",
    "tracking_error",
    "information_ratio",
    "var_95",
    "win_rate",
)


def _array(returns: pd.Series | np.ndarray) -> np.ndarray:
    return np.asarray(returns, dtype=float)


def _too_short(x: np.ndarray, min_periods: int) -> bool:
    return len(x) < min_periods or len(x) == 0


def _std(x: np.ndarray) -> float:
    """Sample standard deviation (ddof=1), exactly 0 for identical values."""
    if len(x) < 2:
        return np.nan
    if np.ptp(x) == 0:
        return 0.0
    return float(np.std(x, ddof=1))


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator != 0 and np.isfinite(denominator) else np.nan


def _growth(x: np.ndarray) -> float:
    return float(np.prod(1.0 + x))


def total_return(returns: pd.Series, min_periods: int = MIN_RETURNS) -> float:
    """``I_t / I_D0 - 1 = prod(1 + r) - 1`` (the index starts at 100, so ``I_t / 100 - 1``)."""
    x = _array(returns)
    return np.nan if _too_short(x, min_periods) else _growth(x) - 1.0


def cagr(returns: pd.Series, min_periods: int = MIN_RETURNS) -> float:
    """Compound annual growth: ``(I_t / 100) ** (252 / n) - 1`` with ``n`` daily returns
    (sessions, not calendar days: 252 returns are one year)."""
    x = _array(returns)
    if _too_short(x, min_periods):
        return np.nan
    with np.errstate(invalid="ignore"):
        return float(_growth(x) ** (TRADING_DAYS / len(x)) - 1.0)


def volatility(returns: pd.Series, min_periods: int = MIN_RETURNS) -> float:
    """Annualised volatility: ``std(r, ddof=1) * sqrt(252)``."""
    x = _array(returns)
    return np.nan if _too_short(x, min_periods) else _std(x) * np.sqrt(TRADING_DAYS)


def sharpe(returns: pd.Series, risk_free_rate: float = DEFAULT_RISK_FREE_RATE, min_periods: int = MIN_RETURNS) -> float:
    """Annualised Sharpe ratio: ``mean(r - rf_d) / std(r - rf_d, ddof=1) * sqrt(252)``,
    ``rf_d = risk_free_rate / 252``. NaN for a flat series."""
    x = _array(returns) - risk_free_rate / TRADING_DAYS
    if _too_short(x, min_periods):
        return np.nan
    return _ratio(x.mean(), _std(x)) * np.sqrt(TRADING_DAYS)


def sortino(returns: pd.Series, risk_free_rate: float = DEFAULT_RISK_FREE_RATE, min_periods: int = MIN_RETURNS) -> float:
    """Annualised Sortino ratio (empyrical's): ``mean(x) * 252 / (sqrt(mean(min(x, 0)**2)) *
    sqrt(252))`` with ``x = r - rf_d``; the downside deviation averages over *all* n returns
    (target 0, not ddof=1, not only the negative ones). NaN without any downside."""
    x = _array(returns) - risk_free_rate / TRADING_DAYS
    if _too_short(x, min_periods):
        return np.nan
    downside = np.sqrt(np.mean(np.minimum(x, 0.0) ** 2)) * np.sqrt(TRADING_DAYS)
    return _ratio(x.mean() * TRADING_DAYS, downside)


def _drawdowns(x: np.ndarray) -> np.ndarray:
    """``I_t / max_{s<=t} I_s - 1`` for t = D0..end; the running maximum includes the base
    level (100 at D0), so a fall from the start counts."""
    levels = np.concatenate([[1.0], np.cumprod(1.0 + x)])
    return levels / np.maximum.accumulate(levels) - 1.0


def max_drawdown(returns: pd.Series, min_periods: int = MIN_RETURNS) -> float:
    """Maximum drawdown ``min_t (I_t / max_{s<=t} I_s - 1)``: 0 or negative (-0.2 = 20%)."""
    x = _array(returns)
    return np.nan if _too_short(x, min_periods) else float(_drawdowns(x).min())


def current_drawdown(returns: pd.Series, min_periods: int = MIN_RETURNS) -> float:
    """Drawdown at the last date: ``I_t / max_{s<=t} I_s - 1`` (0 at a new high)."""
    x = _array(returns)
    return np.nan if _too_short(x, min_periods) else float(_drawdowns(x)[-1])


def calmar(returns: pd.Series, min_periods: int = MIN_RETURNS) -> float:
    """``cagr / abs(max_drawdown)`` over the whole window (not empyrical's trailing 36
    months); NaN without a drawdown."""
    x = _array(returns)
    if _too_short(x, min_periods):
        return np.nan
    return _ratio(cagr(x, min_periods), abs(max_drawdown(x, min_periods)))


def _pair(returns: pd.Series, benchmark_returns: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    x, y = _array(returns), _array(benchmark_returns)
    if x.shape != y.shape:
        raise ValueError(f"returns and benchmark returns must be aligned (lengths {len(x)} and {len(y)})")
    return x, y


def _cov(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.sum((x - x.mean()) * (y - y.mean())) / (len(x) - 1))


def beta(returns: pd.Series, benchmark_returns: pd.Series, min_periods: int = MIN_RETURNS) -> float:
    """``cov(r, b) / var(b)`` (both ddof=1, so the ddof cancels); raw returns, no risk-free
    adjustment (empyrical subtracts the same rf from both, which does not change beta)."""
    x, y = _pair(returns, benchmark_returns)
    if _too_short(x, min_periods):
        return np.nan
    return _ratio(_cov(x, y), _std(y) ** 2)


def correlation(returns: pd.Series, benchmark_returns: pd.Series, min_periods: int = MIN_RETURNS) -> float:
    """Pearson correlation of ``r`` and ``b``."""
    x, y = _pair(returns, benchmark_returns)
    if _too_short(x, min_periods):
        return np.nan
    return _ratio(_cov(x, y), _std(x) * _std(y))


def tracking_error(returns: pd.Series, benchmark_returns: pd.Series, min_periods: int = MIN_RETURNS) -> float:
    """Annualised tracking error: ``std(r - b, ddof=1) * sqrt(252)``."""
    x, y = _pair(returns, benchmark_returns)
    return np.nan if _too_short(x, min_periods) else _std(x - y) * np.sqrt(TRADING_DAYS)


def information_ratio(returns: pd.Series, benchmark_returns: pd.Series, min_periods: int = MIN_RETURNS) -> float:
    """``mean(r - b) * 252 / tracking_error`` (annualised active return over annualised
    tracking error); NaN when the index tracks the benchmark exactly."""
    x, y = _pair(returns, benchmark_returns)
    if _too_short(x, min_periods):
        return np.nan
    return _ratio((x - y).mean() * TRADING_DAYS, tracking_error(x, y, min_periods))


def var_95(returns: pd.Series, min_periods: int = MIN_RETURNS) -> float:
    """Historical 95% value at risk as a return: the 5% quantile of ``r`` with linear
    interpolation (numpy's default), e.g. -0.021 = a 2.1% daily loss."""
    x = _array(returns)
    return np.nan if _too_short(x, min_periods) else float(np.quantile(x, 0.05))


def win_rate(returns: pd.Series, min_periods: int = MIN_RETURNS) -> float:
    """Share of daily returns strictly above 0 (a flat day is not a win)."""
    x = _array(returns)
    return np.nan if _too_short(x, min_periods) else float(np.mean(x > 0))


# --------------------------------------------------------------------------------------------
# Every metric as of every date, vectorised
# --------------------------------------------------------------------------------------------


def _expanding_moments(x: np.ndarray, y: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expanding mean of x and covariance of (x, y) (ddof=1) from cumulative sums.

    Both series are shifted by their first value before summing (both statistics are shift
    invariant): it keeps the sums small when the mean dwarfs the dispersion, makes a constant
    series exactly 0-variance, and the shift is known from the first date on (point in time).
    """
    kx, ky = (x[0], y[0]) if len(x) else (0.0, 0.0)
    dx, dy = x - kx, y - ky
    sx = np.concatenate([[0.0], np.cumsum(dx)])
    sy = np.concatenate([[0.0], np.cumsum(dy)])
    sxy = np.concatenate([[0.0], np.cumsum(dx * dy)])
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = kx + sx / n
        cov = (sxy - sx * sy / n) / (n - 1)
    if x is y:
        # A variance: rounding can leave -1e-20 where the truth is 0.
        cov = np.maximum(cov, 0.0)
    return mean, cov


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((b != 0) & np.isfinite(b), a / np.where(b != 0, b, 1.0), np.nan)


def metrics_as_of_each_date(
    index_daily: pd.DataFrame,
    benchmark_daily: pd.DataFrame | None = None,
    risk_free_rate: float = DEFAULT_RISK_FREE_RATE,
    min_periods: int = MIN_RETURNS,
) -> pd.DataFrame:
    """Every metric as of every date, over the expanding window from D0.

    ``index_daily``: the index's daily rows from D0 on (date, level, daily_return; the first row
    is D0, its return is ignored), as ``index.compute_index`` gives them. ``benchmark_daily``:
    the benchmark's (date, daily_return) rows (``index.benchmark_levels``); the relative metrics
    are NaN without it, and from the first date it has no return for.

    Returns one row per date of ``index_daily``: date, n_returns, and ``METRIC_COLUMNS``; a
    metric is NaN while fewer than ``min_periods`` returns exist. ``total_return`` and ``cagr``
    read the levels (``I_t / I_D0``), the rest the returns.
    """
    frame = index_daily.sort_values("date").reset_index(drop=True)
    dates = pd.DatetimeIndex(frame["date"])
    levels = frame["level"].to_numpy(dtype=float)
    r = frame["daily_return"].to_numpy(dtype=float)[1:]
    if benchmark_daily is not None and len(benchmark_daily):
        bench = benchmark_daily.set_index(pd.DatetimeIndex(benchmark_daily["date"]))["daily_return"]
        b = bench.reindex(dates[1:]).to_numpy(dtype=float)
    else:
        b = np.full(len(r), np.nan)
    n = np.arange(len(levels), dtype=float)  # returns available at each row (0 at D0)
    ann = np.sqrt(TRADING_DAYS)

    growth = levels / levels[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        cagr_ = growth ** (TRADING_DAYS / n) - 1.0

    _, var_r = _expanding_moments(r, r, n)
    x = r - risk_free_rate / TRADING_DAYS
    mean_x, var_x = _expanding_moments(x, x, n)
    std_x = np.sqrt(var_x)
    with np.errstate(invalid="ignore", divide="ignore"):
        downside = np.sqrt(np.concatenate([[0.0], np.cumsum(np.minimum(x, 0.0) ** 2)]) / n) * ann

    running_max = np.maximum.accumulate(levels)
    drawdown = levels / running_max - 1.0
    max_dd = np.minimum.accumulate(drawdown)

    _, cov_rb = _expanding_moments(r, b, n)
    _, var_b = _expanding_moments(b, b, n)
    d = r - b
    mean_d, var_d = _expanding_moments(d, d, n)
    te = np.sqrt(var_d) * ann

    quantile = pd.Series(r).expanding(min_periods=1).quantile(0.05, interpolation="linear").to_numpy()
    wins = np.concatenate([[0.0], np.cumsum(r > 0)])

    out = pd.DataFrame(
        {
            "date": dates,
            "n_returns": n.astype(int),
            "total_return": growth - 1.0,
            "cagr": cagr_,
            "volatility": np.sqrt(var_r) * ann,
            "sharpe": _safe_div(mean_x, std_x) * ann,
            "sortino": _safe_div(mean_x * TRADING_DAYS, downside),
            "max_drawdown": max_dd,
            "current_drawdown": drawdown,
            "calmar": _safe_div(cagr_, np.abs(max_dd)),
            "beta": _safe_div(cov_rb, var_b),
            "correlation": _safe_div(cov_rb, np.sqrt(var_r) * np.sqrt(var_b)),
            "tracking_error": te,
            "information_ratio": _safe_div(mean_d * TRADING_DAYS, te),
            "var_95": np.concatenate([[np.nan], quantile]),
            "win_rate": _safe_div(wins, n),
        }
    )
    metric_cols = list(METRIC_COLUMNS)
    out.loc[n < max(min_periods, 1), metric_cols] = np.nan
    return out
