"""Performance figures for a period: daily, weekly (ISO week) or monthly. Pure maths; no
rendering (that is :mod:`autoindex_pipeline.reporting.performance`), no Dagster.

What a report holds, for the index and the benchmark side by side (and their difference,
"active"):

* **period figures** over the sessions of the period up to ``as_of`` (period to date):
  total return, CAGR, volatility, Sharpe, Sortino, max drawdown, win rate, best and worst day,
  turnover (index only), number of daily returns. Conventions are the methodology's
  (section 8, :mod:`autoindex_pipeline.domain.metrics`, risk-free rate 0.05 by default): the
  period's first return is the move from the close of the session before the period (or from
  the base date D0, when the period contains it).
  **CAGR, volatility, Sharpe and Sortino need at least 20 daily returns and are n/a below**:
  a daily report (1 return) and a weekly one (<= 5) never show them; a full month (~21
  sessions) usually does. Annualising one day's move would be noise presented as a figure.
  Total return, max drawdown (measured from the level before the period), win rate and
  best / worst day are shown for any period with at least one return.
* **context**, so a daily report is not only the day: month to date, year to date and since
  inception total returns, plus since-inception volatility, Sharpe and max drawdown (n/a before
  20 returns).
* **contributors**: ``sum over the period's sessions t of w[t-1, i] * r[t, i]`` per symbol,
  with ``w[t-1]`` the weights held at the start of session t. With ``weights="holdings"`` those
  are the drifted holdings you pass (one row per session, the weights after that session's
  close). With ``weights="allocations"`` (the stored rebalance targets) the holdings come from
  the index engine's own drift (:func:`autoindex_pipeline.domain.index.start_of_day_holdings`,
  methodology section 7; a missing return counts as 0). Either way the contributions add up to
  the sum of the index's daily returns before transaction costs; they are *arithmetic* (not
  compounded) contributions.
* **allocation changes**: weights held at the start of the period (after the close before it)
  against weights held after the close of ``as_of``: the biggest increases and decreases,
  including entries and exits (a missing weight is 0).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from autoindex_pipeline.domain import metrics as m
from autoindex_pipeline.domain.calendar import DEFAULT_CALENDAR, sessions_between
from autoindex_pipeline.domain.index import start_of_day_holdings

Period = Literal["daily", "weekly", "monthly"]
PERIODS: tuple[str, ...] = ("daily", "weekly", "monthly")
WeightsKind = Literal["auto", "holdings", "allocations"]

RATIO_MIN_RETURNS = m.MIN_RETURNS

FIGURES: tuple[str, ...] = (
    "total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "win_rate", "best_day", "worst_day",
    "turnover", "n_returns",
)
CONTEXT: tuple[str, ...] = (
    "month_to_date", "year_to_date", "since_inception", "inception_volatility", "inception_sharpe", "inception_max_drawdown",
)
CONTRIBUTOR_COLUMNS = ("symbol", "contribution", "avg_weight", "symbol_return")
CHANGE_COLUMNS = ("symbol", "weight_start", "weight_end", "change")


def period_bounds(as_of: dt.date | str | pd.Timestamp, period: str) -> tuple[dt.date, dt.date, str]:
    """(first day, last day, label) of the calendar period holding ``as_of``.

    daily: the day itself (label ``2024-03-05``); weekly: Monday to Sunday of its ISO week
    (label ``2024-W10``; an ISO week can span a year end: 2014-12-29 is in ``2015-W01``);
    monthly: the calendar month (label ``2024-03``).
    """
    day = pd.Timestamp(as_of).date()
    if period == "daily":
        return day, day, day.isoformat()
    if period == "weekly":
        iso = day.isocalendar()
        start = day - dt.timedelta(days=iso.weekday - 1)
        return start, start + dt.timedelta(days=6), f"{iso.year}-W{iso.week:02d}"
    if period == "monthly":
        start = day.replace(day=1)
        end = (pd.Timestamp(start) + pd.offsets.MonthEnd(0)).date()
        return start, end, f"{day.year}-{day.month:02d}"
    raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")


@dataclass
class PerformanceReport:
    """One period's report. ``figures`` and ``context`` are indexed by metric name with columns
    ``index``, ``benchmark``, ``active`` (index minus benchmark). ``best_day`` / ``worst_day``
    map ``"index"`` / ``"benchmark"`` to ``(date, return)``."""

    strategy: str
    period: str
    label: str
    period_start: dt.date
    period_end: dt.date
    as_of: dt.date
    first_session: dt.date | None
    n_returns: int
    complete: bool
    figures: pd.DataFrame
    context: pd.DataFrame
    best_day: dict[str, tuple[dt.date, float] | None]
    worst_day: dict[str, tuple[dt.date, float] | None]
    contributors: pd.DataFrame
    allocation_changes: pd.DataFrame
    weights_source: str
    risk_free_rate: float = m.DEFAULT_RISK_FREE_RATE
    notes: list[str] = field(default_factory=list)

    def _keys(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "period": self.period,
            "label": self.label,
            "period_start": self.period_start,
            "as_of": self.as_of,
        }

    def rows(self) -> list[dict[str, Any]]:
        """Long rows for a report table: one per (section, metric) with index, benchmark and
        active values (None for n/a)."""
        out = []
        for section, frame in (("period", self.figures), ("context", self.context)):
            for metric, row in frame.iterrows():
                out.append(
                    {
                        **self._keys(),
                        "section": section,
                        "metric": metric,
                        "index_value": _none(row["index"]),
                        "benchmark_value": _none(row["benchmark"]),
                        "active_value": _none(row["active"]),
                    }
                )
        return out

    def _frame_rows(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        return [
            {**self._keys(), **{k: v if k == "symbol" else _none(v) for k, v in r.items()}} for r in frame.to_dict("records")
        ]

    def contributor_rows(self) -> list[dict[str, Any]]:
        """One row per symbol: contribution, avg_weight, symbol_return (plus the period keys)."""
        return self._frame_rows(self.contributors)

    def allocation_change_rows(self) -> list[dict[str, Any]]:
        """One row per symbol: weight_start, weight_end, change (plus the period keys)."""
        return self._frame_rows(self.allocation_changes)

    def top_contributors(self, n: int = 5) -> pd.DataFrame:
        c = self.contributors
        return c[c["contribution"] > 0].head(n)

    def bottom_contributors(self, n: int = 5) -> pd.DataFrame:
        c = self.contributors
        return c[c["contribution"] < 0].sort_values("contribution").head(n)

    def biggest_increases(self, n: int = 5) -> pd.DataFrame:
        a = self.allocation_changes
        return a[a["change"] > 0].sort_values("change", ascending=False).head(n)

    def biggest_decreases(self, n: int = 5) -> pd.DataFrame:
        a = self.allocation_changes
        return a[a["change"] < 0].sort_values("change").head(n)


def _none(x: Any) -> Any:
    """NaN -> None (NULL in storage), numpy scalars -> Python ones."""
    if isinstance(x, (float, np.floating)):
        return None if math.isnan(x) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


def _pp(x: float) -> str:
    # The one number a note quotes; same spelling as the rendered reports' percentage points.
    return "0.00 pp" if float(x) == 0 else f"{float(x) * 100:+.2f} pp"


def prepare_daily(frame: pd.DataFrame | None) -> pd.DataFrame:
    """(date, level, daily_return) sorted by date, one row per date; ``daily_return`` derived
    from the levels when absent. None or empty gives an empty frame with those columns."""
    if frame is None or len(frame) == 0:
        return pd.DataFrame({"date": pd.DatetimeIndex([]), "daily_return": [], "level": []})
    out = frame.copy()
    out["date"] = pd.to_datetime(out["date"]).dt.normalize().astype("datetime64[ns]")
    out = out.sort_values("date").drop_duplicates("date", keep="last").reset_index(drop=True)
    if "daily_return" not in out.columns:
        out["daily_return"] = out["level"] / out["level"].shift(1) - 1.0
    return out


def side_figures(r: pd.Series | None, rf: float) -> dict[str, float]:
    """The period figures of one return series (``turnover`` NaN: it is the index's alone)."""
    if r is None:
        return {k: np.nan for k in FIGURES}
    x = r.to_numpy(dtype=float)
    if len(x) == 0:
        return {k: np.nan for k in FIGURES if k != "n_returns"} | {"n_returns": 0}
    return {
        "total_return": float(np.prod(1.0 + x) - 1.0),
        "cagr": m.cagr(x, RATIO_MIN_RETURNS),
        "volatility": m.volatility(x, RATIO_MIN_RETURNS),
        "sharpe": m.sharpe(x, rf, RATIO_MIN_RETURNS),
        "sortino": m.sortino(x, rf, RATIO_MIN_RETURNS),
        "max_drawdown": m.max_drawdown(x, 1),
        "win_rate": m.win_rate(x, 1),
        "best_day": float(x.max()),
        "worst_day": float(x.min()),
        "turnover": np.nan,
        "n_returns": len(x),
    }


def extreme_day(r: pd.Series | None, best: bool) -> tuple[dt.date, float] | None:
    """(date, return) of the best (or worst) day, None without a return."""
    if r is None or r.empty or r.isna().all():
        return None
    at = r.idxmax() if best else r.idxmin()
    return pd.Timestamp(at).date(), float(r.loc[at])


def growth_between(levels: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """level(end) / level(last date before start, or the first level) - 1."""
    before = levels[levels.index < start]
    base = before.iloc[-1] if len(before) else levels.iloc[0]
    upto = levels[levels.index <= end]
    return float(upto.iloc[-1] / base - 1.0) if len(upto) else np.nan


def _frame(index: dict[str, float], benchmark: dict[str, float], order: tuple[str, ...]) -> pd.DataFrame:
    out = pd.DataFrame({"index": pd.Series(index, dtype=float), "benchmark": pd.Series(benchmark, dtype=float)})
    out = out.reindex(list(order)).astype(float)
    out["active"] = out["index"] - out["benchmark"]
    return out


@dataclass(frozen=True)
class _Window:
    start_day: dt.date
    end_day: dt.date
    label: str
    as_of: pd.Timestamp
    sessions: pd.DatetimeIndex
    in_period: pd.DatetimeIndex
    return_dates: pd.DatetimeIndex


def _window(sessions: pd.DatetimeIndex, as_of: Any, period: str) -> _Window:
    """The period holding ``as_of`` on the index's sessions; ``as_of`` falls back to the last
    session on or before it."""
    start_day, end_day, label = period_bounds(as_of, period)
    asked = pd.Timestamp(as_of).normalize()
    if asked < sessions[0]:
        raise ValueError(f"as_of {asked.date()} is before the base date {sessions[0].date()}")
    eff = sessions[sessions <= asked][-1]
    if eff < pd.Timestamp(start_day):
        # No session of the period yet (e.g. a Monday holiday asked on Monday): report the
        # period of the last session instead of an empty one.
        start_day, end_day, label = period_bounds(eff, period)
    in_period = sessions[(sessions >= pd.Timestamp(start_day)) & (sessions <= eff)]
    return _Window(start_day, end_day, label, eff, sessions, in_period, in_period[in_period > sessions[0]])


def period_figures(idx: pd.DataFrame, r: pd.Series, b: pd.Series | None, rf: float) -> pd.DataFrame:
    """FIGURES x (index, benchmark, active) over the period's returns ``r`` / ``b``."""
    fi = side_figures(r, rf)
    if "turnover" in idx.columns:
        t = idx.set_index("date")["turnover"].reindex(r.index)
        fi["turnover"] = float(t.fillna(0.0).sum()) if len(r) else np.nan
    figures = _frame(fi, side_figures(b, rf), FIGURES)
    figures.loc["n_returns", "active"] = np.nan
    return figures


def context_figures(
    levels: pd.Series, returns: pd.Series, b_all: pd.Series | None, as_of: pd.Timestamp, rf: float
) -> pd.DataFrame:
    """CONTEXT x (index, benchmark, active): month / year to date and since inception.
    ``levels`` / ``returns``: the index from D0 by date; ``b_all``: benchmark returns on the
    sessions after D0."""
    sessions = pd.DatetimeIndex(levels.index)
    d0 = sessions[0]
    bench_levels = pd.Series(np.cumprod(np.concatenate([[1.0], 1.0 + b_all.to_numpy()])), index=sessions) if b_all is not None else None
    after = sessions[1:]
    r_all = returns.astype(float).reindex(after[after <= as_of])
    b_inc = b_all.reindex(r_all.index) if b_all is not None else None

    ci: dict[str, float] = {}
    cb: dict[str, float] = {}
    starts = {"month_to_date": pd.Timestamp(as_of.year, as_of.month, 1), "year_to_date": pd.Timestamp(as_of.year, 1, 1), "since_inception": d0}
    for name, s in starts.items():
        ci[name] = growth_between(levels, s, as_of)
        cb[name] = growth_between(bench_levels, s, as_of) if bench_levels is not None else np.nan
    for name, metric, args in (
        ("inception_volatility", m.volatility, (RATIO_MIN_RETURNS,)),
        ("inception_sharpe", m.sharpe, (rf, RATIO_MIN_RETURNS)),
        ("inception_max_drawdown", m.max_drawdown, (RATIO_MIN_RETURNS,)),
    ):
        ci[name] = metric(r_all, *args)
        cb[name] = metric(b_inc, *args) if b_inc is not None else np.nan
    return _frame(ci, cb, CONTEXT)


def contributions(starts: pd.DataFrame, returns: pd.DataFrame) -> pd.DataFrame:
    """Per symbol: ``sum_t w[t-1] r[t]`` (contribution), mean start-of-day weight and compounded
    return over the rows of ``starts`` (start-of-day weights, dates x symbols); missing returns
    count as 0. Symbols never held and contributing nothing are left out; largest first."""
    rets = returns.reindex(index=starts.index, columns=starts.columns).astype(float).fillna(0.0)
    return (
        pd.DataFrame(
            {
                "symbol": starts.columns,
                "contribution": (starts * rets).sum(axis=0).to_numpy(),
                "avg_weight": starts.mean(axis=0).to_numpy(),
                "symbol_return": ((1.0 + rets).prod(axis=0) - 1.0).to_numpy(),
            }
        )
        .query("avg_weight > 0 or contribution != 0")
        .sort_values(["contribution", "symbol"], ascending=[False, True])
        .reset_index(drop=True)
    )


def allocation_changes(start: pd.Series, end: pd.Series) -> pd.DataFrame:
    """Per symbol held at either end: weight_start, weight_end, change (a missing weight is 0);
    largest increase first."""
    sym = start.index.union(end.index)
    w0, w1 = start.reindex(sym).fillna(0.0), end.reindex(sym).fillna(0.0)
    return (
        pd.DataFrame({"symbol": sym, "weight_start": w0.to_numpy(), "weight_end": w1.to_numpy()})
        .assign(change=lambda f: f["weight_end"] - f["weight_start"])
        .query("weight_start > 0 or weight_end > 0")
        .sort_values(["change", "symbol"], ascending=[False, True])
        .reset_index(drop=True)
    )


def _weights_wide(frame: pd.DataFrame) -> pd.DataFrame:
    f = frame.loc[:, ["date", "symbol", "weight"]].copy()
    f["date"] = pd.to_datetime(f["date"]).dt.normalize()
    return f.pivot_table(index="date", columns="symbol", values="weight", aggfunc="last").fillna(0.0).sort_index()


def _previous_session(sessions: pd.DatetimeIndex) -> pd.Series:
    return pd.Series(sessions[:-1], index=sessions[1:])


def detect_weights_kind(weights: pd.DataFrame, w: _Window) -> str:
    """Holdings when a weight row exists for the session before every return date and for
    ``as_of`` itself (rebalance targets on every one of those sessions are holdings too)."""
    if not len(w.return_dates):
        return "allocations"
    # As arrays: a set of Timestamps over years of rebalances cost ~1 s a report.
    have = pd.DatetimeIndex(pd.to_datetime(weights["date"]).dt.normalize().unique()).as_unit("ns")
    needed = pd.DatetimeIndex([*_previous_session(w.sessions).reindex(w.return_dates).dropna(), w.as_of]).as_unit("ns")
    return "holdings" if bool(needed.isin(have).all()) else "allocations"


def _held_holdings(weights: pd.DataFrame, w: _Window) -> tuple[pd.DataFrame, pd.Series]:
    wide = _weights_wide(weights)
    starts = wide.reindex(_previous_session(w.sessions).reindex(w.return_dates).to_numpy()).fillna(0.0)
    starts.index = w.return_dates
    if w.as_of not in wide.index:
        raise ValueError(f"holdings have no row for {w.as_of.date()}: pass weights='allocations' to drift targets")
    return starts, wide.loc[w.as_of]


def _drifted_targets(targets: pd.DataFrame, returns_wide: pd.DataFrame, w: _Window) -> tuple[pd.DataFrame, pd.Series]:
    """The index engine's start-of-day holdings from the last rebalance before the period."""
    first_start = _previous_session(w.sessions).get(w.return_dates[0], w.return_dates[0])
    dates = pd.DatetimeIndex(pd.to_datetime(targets["date"]).dt.normalize().unique()).sort_values()
    known = dates[dates <= first_start]
    if len(known) == 0:
        raise ValueError(f"no allocation on or before {pd.Timestamp(first_start).date()} to start the period from")
    origin = known[-1]
    path = w.sessions[(w.sessions >= origin) & (w.sessions <= w.as_of)].union(pd.DatetimeIndex([origin]))
    starts, end = start_of_day_holdings(returns_wide.reindex(index=path), targets, origin, w.as_of)
    # The engine keys symbols as objects; as strings they match the holdings path's frames.
    starts.columns, end.index = starts.columns.astype(str), end.index.astype(str)
    return starts.reindex(w.return_dates).fillna(0.0), end


def _attribution(
    weights: pd.DataFrame | None, kind: str, returns_wide: pd.DataFrame | None, w: _Window, r: pd.Series, costs: float
) -> tuple[pd.DataFrame, pd.DataFrame, str, list[str]]:
    """(contributors, allocation changes, weights source, notes)."""
    contributors = pd.DataFrame(columns=list(CONTRIBUTOR_COLUMNS))
    changes = pd.DataFrame(columns=list(CHANGE_COLUMNS))
    if weights is None or len(weights) == 0:
        return contributors, changes, "none", ["No holdings or allocations were given: no contributors or allocation changes."]
    if len(w.return_dates) == 0:
        return contributors, changes, "none", ["The period has no daily return yet: no contributors or allocation changes."]
    kind = detect_weights_kind(weights, w) if kind == "auto" else kind
    if kind == "holdings":
        (starts, end), source = _held_holdings(weights, w), "drifted holdings"
    elif returns_wide is not None:
        (starts, end), source = _drifted_targets(weights, returns_wide, w), "rebalance allocations drifted with returns"
    else:
        return contributors, changes, "none", ["Allocations without returns cannot be drifted: no contributors or allocation changes."]
    notes: list[str] = []
    if returns_wide is not None:
        contributors = contributions(starts, returns_wide)
        total = float(contributors["contribution"].sum())
        if abs(total - r.sum()) > 1e-6 + costs * 1.5:
            notes.append(
                f"Contributions add up to {_pp(total)} against {_pp(r.sum())} of summed index returns: "
                "the weights do not match the index exactly."
            )
    else:
        notes.append("No returns were given: no contributors.")
    return contributors, allocation_changes(starts.iloc[0], end), source, notes


def period_report(
    index_daily: pd.DataFrame,
    benchmark_daily: pd.DataFrame | None,
    holdings_or_allocations: pd.DataFrame | None,
    returns_wide: pd.DataFrame | None,
    period: Period,
    as_of: dt.date | str | pd.Timestamp,
    *,
    strategy: str = "default",
    risk_free_rate: float = m.DEFAULT_RISK_FREE_RATE,
    weights: WeightsKind = "auto",
    calendar: str = DEFAULT_CALENDAR,
) -> PerformanceReport:
    """The report for the ``period`` (daily / weekly / monthly) holding ``as_of``.

    ``index_daily``: the index's rows from D0 (date, level, daily_return[, turnover,
    is_rebalance]) as ``domain.index.compute_index`` gives them; ``benchmark_daily``: (date,
    daily_return[, level]) as ``domain.index.benchmark_levels`` gives them (None: benchmark
    columns n/a). ``holdings_or_allocations``: long (date, symbol, weight), either drifted
    holdings per session or the rebalance targets (``weights`` says which; ``"auto"`` takes
    holdings when there is a row for every session needed). ``returns_wide``: cleaned returns,
    sessions x symbols (needed for contributions). ``as_of`` falls back to the last index
    session on or before it; the period runs from its first session to there (period to date).
    """
    idx = prepare_daily(index_daily)
    if idx.empty:
        raise ValueError("index_daily is empty")
    by_date = idx.set_index("date")
    w = _window(pd.DatetimeIndex(idx["date"]), as_of, period)
    r = by_date["daily_return"].astype(float).reindex(w.return_dates)

    # Benchmark on the index's sessions; a session it has no return for counts as 0 (as in
    # domain.index.benchmark_levels).
    bench = prepare_daily(benchmark_daily)
    b_all = None if bench.empty else bench.set_index("date")["daily_return"].astype(float).reindex(w.sessions[1:]).fillna(0.0)
    b = None if b_all is None else b_all.reindex(w.return_dates)

    notes: list[str] = []
    if len(w.return_dates) < RATIO_MIN_RETURNS:
        notes.append(
            f"CAGR, volatility, Sharpe and Sortino need at least {RATIO_MIN_RETURNS} daily returns; "
            f"this period has {len(w.return_dates)}, so they are n/a."
        )
    if b_all is None:
        notes.append("No benchmark series was given: benchmark figures are n/a.")
    costs = float(by_date.get("cost", pd.Series(dtype=float)).reindex(w.return_dates).fillna(0.0).sum())
    contributors, changes, source, more = _attribution(holdings_or_allocations, weights, returns_wide, w, r, costs)

    remaining = sessions_between(w.as_of + pd.Timedelta(days=1), pd.Timestamp(w.end_day), calendar)
    return PerformanceReport(
        strategy=strategy,
        period=period,
        label=w.label,
        period_start=w.start_day,
        period_end=w.end_day,
        as_of=w.as_of.date(),
        first_session=w.in_period[0].date() if len(w.in_period) else None,
        n_returns=len(w.return_dates),
        complete=len(remaining) == 0,
        figures=period_figures(idx, r, b, risk_free_rate),
        context=context_figures(by_date["level"].astype(float), by_date["daily_return"], b_all, w.as_of, risk_free_rate),
        best_day={"index": extreme_day(r, True), "benchmark": extreme_day(b, True)},
        worst_day={"index": extreme_day(r, False), "benchmark": extreme_day(b, False)},
        contributors=contributors,
        allocation_changes=changes,
        weights_source=source,
        risk_free_rate=risk_free_rate,
        notes=notes + more,
    )
