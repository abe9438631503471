"""Performance reports for a period: daily, weekly (ISO week) or monthly. Pure; no Dagster.

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
* **top contributors**: ``sum over the period's sessions t of w[t-1, i] * r[t, i]`` per symbol,
  with ``w[t-1]`` the weights held at the start of session t. With ``weights="holdings"`` those
  are the drifted holdings you pass (one row per session, the weights after that session's
  close). With ``weights="allocations"`` (the stored rebalance targets) the holdings are
  rebuilt by drifting each rebalance's targets with the assets' returns, exactly as the index
  engine does (methodology section 7; a missing return counts as 0). Either way the
  contributions add up to the sum of the index's daily returns before transaction costs; they
  are *arithmetic* (not compounded) contributions.
* **allocation changes**: weights held at the start of the period (after the close before it)
  against weights held after the close of ``as_of``: the biggest increases and decreases,
  including entries and exits (a missing weight is 0).

:func:`render_chart_png` draws index vs benchmark (top) and their drawdowns (bottom);
:func:`render_html` makes a self-contained page (chart embedded as base64 or linked).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from autoindex_pipeline.domain import metrics as m
from autoindex_pipeline.domain.calendar import DEFAULT_CALENDAR, sessions_between

Period = Literal["daily", "weekly", "monthly"]
PERIODS: tuple[str, ...] = ("daily", "weekly", "monthly")
WeightsKind = Literal["auto", "holdings", "allocations"]

RATIO_MIN_RETURNS = m.MIN_RETURNS

FIGURES: tuple[str, ...] = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "win_rate",
    "best_day",
    "worst_day",
    "turnover",
    "n_returns",
)
CONTEXT: tuple[str, ...] = (
    "month_to_date",
    "year_to_date",
    "since_inception",
    "inception_volatility",
    "inception_sharpe",
    "inception_max_drawdown",
)
LABELS = {
    "total_return": "Total return",
    "cagr": "CAGR",
    "volatility": "Volatility (ann.)",
    "sharpe": "Sharpe",
    "sortino": "Sortino",
    "max_drawdown": "Max drawdown",
    "win_rate": "Win rate",
    "best_day": "Best day",
    "worst_day": "Worst day",
    "turnover": "Turnover",
    "n_returns": "Daily returns",
    "month_to_date": "Month to date",
    "year_to_date": "Year to date",
    "since_inception": "Since inception",
    "inception_volatility": "Volatility since inception",
    "inception_sharpe": "Sharpe since inception",
    "inception_max_drawdown": "Max drawdown since inception",
}
_RATIOS = {"sharpe", "sortino", "inception_sharpe"}
_COUNTS = {"n_returns"}


# --------------------------------------------------------------------------------------------
# Periods


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


# --------------------------------------------------------------------------------------------
# Report


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

    # -- storage

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

    # -- views

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

    @property
    def title(self) -> str:
        kind = {"daily": "Daily", "weekly": "Weekly", "monthly": "Monthly"}[self.period]
        return f"{kind} performance report - {self.strategy} - {self.label}"

    def headline(self) -> str:
        f = self.figures
        idx, bm = f.loc["total_return", "index"], f.loc["total_return", "benchmark"]
        text = f"The index returned {_fmt('total_return', idx)}"
        if not _isnan(bm):
            text += f" against {_fmt('total_return', bm)} for the benchmark ({_fmt_pp(idx - bm)})"
        first = self.first_session.isoformat() if self.first_session else "-"
        text += f" over {self.n_returns} session{'s' if self.n_returns != 1 else ''} ({first} to {self.as_of.isoformat()})"
        if not self.complete:
            text += ", period to date"
        return text + "."

    def to_markdown(self, top_n: int = 5) -> str:
        lines = [f"# {self.title}", "", self.headline(), ""]
        lines += ["## Figures", "", "| | Index | Benchmark | Active |", "|---|---:|---:|---:|"]
        for metric, row in self.figures.iterrows():
            lines.append(_md_metric_row(metric, row))
        for side in ("index", "benchmark"):
            best, worst = self.best_day.get(side), self.worst_day.get(side)
            if best and worst:
                lines.append("")
                lines.append(
                    f"{side.capitalize()}: best day {best[0].isoformat()} ({_fmt('best_day', best[1])}), "
                    f"worst day {worst[0].isoformat()} ({_fmt('worst_day', worst[1])})."
                )
        lines += ["", "## Context", "", "| | Index | Benchmark | Active |", "|---|---:|---:|---:|"]
        for metric, row in self.context.iterrows():
            lines.append(_md_metric_row(metric, row))
        if len(self.contributors):
            lines += ["", f"## Contributors ({self.weights_source})", ""]
            lines += _md_contributors("Top", self.top_contributors(top_n))
            lines += _md_contributors("Bottom", self.bottom_contributors(top_n))
        if len(self.allocation_changes):
            lines += ["", "## Allocation changes (start of period to as of)", ""]
            lines += _md_changes("Biggest increases", self.biggest_increases(top_n))
            lines += _md_changes("Biggest decreases", self.biggest_decreases(top_n))
        if self.notes:
            lines += ["", "## Notes", ""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines).rstrip() + "\n"


def _md_metric_row(metric: str, row: pd.Series) -> str:
    cells = (_fmt(metric, row["index"]), _fmt(metric, row["benchmark"]), _fmt_active(metric, row["active"]))
    return f"| {LABELS[metric]} | " + " | ".join(cells) + " |"


def _md_contributors(title: str, frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return []
    out = [f"**{title}**", "", "| Symbol | Contribution | Avg weight | Return |", "|---|---:|---:|---:|"]
    for r in frame.itertuples(index=False):
        out.append(f"| {r.symbol} | {_fmt_pp(r.contribution)} | {_pct(r.avg_weight)} | {_pct(r.symbol_return, sign=True)} |")
    return out + [""]


def _md_changes(title: str, frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return []
    out = [f"**{title}**", "", "| Symbol | Start | End | Change |", "|---|---:|---:|---:|"]
    for r in frame.itertuples(index=False):
        out.append(f"| {r.symbol} | {_pct(r.weight_start)} | {_pct(r.weight_end)} | {_fmt_pp(r.change)} |")
    return out + [""]


# --------------------------------------------------------------------------------------------
# Formatting


def _isnan(x: Any) -> bool:
    try:
        return x is None or math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def _none(x: Any) -> Any:
    if isinstance(x, (float, np.floating)):
        return None if math.isnan(x) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


def _pct(x: Any, sign: bool = False) -> str:
    if _isnan(x):
        return "n/a"
    if float(x) == 0:
        return "0.00%"
    return f"{float(x):+.2%}" if sign else f"{float(x):.2%}"


def _fmt_pp(x: Any) -> str:
    """A difference of two percentages, in percentage points."""
    if _isnan(x):
        return "n/a"
    return "0.00 pp" if float(x) == 0 else f"{float(x) * 100:+.2f} pp"


def _fmt(metric: str, x: Any) -> str:
    if _isnan(x):
        return "n/a"
    if metric in _COUNTS:
        return f"{int(x)}"
    if metric in _RATIOS:
        return f"{float(x):.2f}"
    if metric in ("volatility", "win_rate", "turnover", "inception_volatility"):
        return _pct(x)
    return _pct(x, sign=True)


def _fmt_active(metric: str, x: Any) -> str:
    if _isnan(x):
        return "n/a"
    if metric in _COUNTS:
        return ""
    if metric in _RATIOS:
        return f"{float(x):+.2f}"
    return _fmt_pp(x)


# --------------------------------------------------------------------------------------------
# Computation


def _prepare_daily(frame: pd.DataFrame | None) -> pd.DataFrame:
    if frame is None or len(frame) == 0:
        return pd.DataFrame({"date": pd.DatetimeIndex([]), "daily_return": [], "level": []})
    out = frame.copy()
    out["date"] = pd.to_datetime(out["date"]).dt.normalize().astype("datetime64[ns]")
    out = out.sort_values("date").drop_duplicates("date", keep="last").reset_index(drop=True)
    if "daily_return" not in out.columns:
        out["daily_return"] = out["level"] / out["level"].shift(1) - 1.0
    return out


def _side_figures(r: pd.Series, rf: float) -> dict[str, float]:
    x = r.to_numpy(dtype=float)
    n = len(x)
    if n == 0:
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
        "n_returns": n,
    }


def _extreme(r: pd.Series, best: bool) -> tuple[dt.date, float] | None:
    if r.empty or r.isna().all():
        return None
    at = r.idxmax() if best else r.idxmin()
    return pd.Timestamp(at).date(), float(r.loc[at])


def _growth_between(levels: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """level(end) / level(last date before start, or the first level) - 1."""
    before = levels[levels.index < start]
    base = before.iloc[-1] if len(before) else levels.iloc[0]
    upto = levels[levels.index <= end]
    return float(upto.iloc[-1] / base - 1.0) if len(upto) else np.nan


def _weights_wide(frame: pd.DataFrame) -> pd.DataFrame:
    f = frame.loc[:, ["date", "symbol", "weight"]].copy()
    f["date"] = pd.to_datetime(f["date"]).dt.normalize()
    return f.pivot_table(index="date", columns="symbol", values="weight", aggfunc="last").fillna(0.0).sort_index()


def _start_of_day_weights(
    weights: pd.DataFrame,
    kind: str,
    sessions: pd.DatetimeIndex,
    return_dates: pd.DatetimeIndex,
    returns_wide: pd.DataFrame | None,
    as_of: pd.Timestamp,
) -> tuple[pd.DataFrame, pd.Series, str]:
    """(weights held at the start of each return date, weights held after the close of
    ``as_of``, description of the source)."""
    wide = _weights_wide(weights)
    prev = pd.Series(sessions[:-1], index=sessions[1:])  # session -> previous session
    if kind == "holdings":
        starts = wide.reindex(prev.reindex(return_dates).to_numpy()).fillna(0.0)
        starts.index = return_dates
        if as_of not in wide.index:
            raise ValueError(f"holdings have no row for {as_of.date()}: pass weights='allocations' to drift targets")
        return starts, wide.loc[as_of], "drifted holdings"

    # Allocations: drift the targets forward like the index engine (methodology section 7).
    if returns_wide is None:
        raise ValueError("returns_wide is needed to drift rebalance allocations")
    first_start = prev.get(return_dates[0], return_dates[0]) if len(return_dates) else as_of
    known = wide.index[wide.index <= first_start]
    if len(known) == 0:
        raise ValueError(f"no allocation on or before {pd.Timestamp(first_start).date()} to start the period from")
    origin = known[-1]
    symbols = wide.columns
    path = sessions[(sessions > origin) & (sessions <= as_of)]
    rets = returns_wide.reindex(index=path, columns=symbols).astype(float).fillna(0.0).to_numpy()
    h = wide.loc[origin].to_numpy(dtype=float)
    rebalance = set(wide.index)
    rows = np.empty((len(path), len(symbols)))
    for k, t in enumerate(path):
        rows[k] = h
        growth = h * (1.0 + rets[k])
        total = growth.sum()
        h = growth / total if total > 0 else h
        if t in rebalance:
            h = wide.loc[t].to_numpy(dtype=float)
    starts = pd.DataFrame(rows, index=path, columns=symbols).reindex(return_dates).fillna(0.0)
    end = pd.Series(h, index=symbols)
    return starts, end, "rebalance allocations drifted with returns"


def _detect_kind(
    weights: pd.DataFrame, sessions: pd.DatetimeIndex, return_dates: pd.DatetimeIndex, as_of: pd.Timestamp
) -> str:
    """Holdings when a weight row exists for the session before every return date and for
    ``as_of`` itself (rebalance targets on every one of those sessions are holdings too)."""
    if not len(return_dates):
        return "allocations"
    have = set(pd.to_datetime(weights["date"]).dt.normalize())
    prev = pd.Series(sessions[:-1], index=sessions[1:])
    needed = list(prev.reindex(return_dates).dropna()) + [as_of]
    return "holdings" if all(d in have for d in needed) else "allocations"


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
    start_day, end_day, label = period_bounds(as_of, period)
    idx = _prepare_daily(index_daily)
    if idx.empty:
        raise ValueError("index_daily is empty")
    asked = pd.Timestamp(as_of).normalize()
    sessions = pd.DatetimeIndex(idx["date"])
    if asked < sessions[0]:
        raise ValueError(f"as_of {asked.date()} is before the base date {sessions[0].date()}")
    eff = sessions[sessions <= asked][-1]
    if eff < pd.Timestamp(start_day):
        # No session of the period yet (e.g. a Monday holiday asked on Monday): report the
        # period of the last session instead of an empty one.
        start_day, end_day, label = period_bounds(eff, period)
    start = pd.Timestamp(start_day)
    notes: list[str] = []

    levels = idx.set_index("date")["level"].astype(float)
    d0 = sessions[0]
    in_period = sessions[(sessions >= start) & (sessions <= eff)]
    return_dates = in_period[in_period > d0]
    r = idx.set_index("date")["daily_return"].astype(float).reindex(return_dates)

    # Benchmark on the index's sessions; a session it has no return for counts as 0 (as in
    # domain.index.benchmark_levels).
    bench = _prepare_daily(benchmark_daily)
    has_bench = not bench.empty
    b_all = bench.set_index("date")["daily_return"].astype(float).reindex(sessions[1:]).fillna(0.0) if has_bench else None
    b = b_all.reindex(return_dates) if has_bench else None

    fi = _side_figures(r, risk_free_rate)
    fb = _side_figures(b, risk_free_rate) if has_bench else {k: np.nan for k in FIGURES}
    if "turnover" in idx.columns:
        t = idx.set_index("date")["turnover"].reindex(return_dates)
        fi["turnover"] = float(t.fillna(0.0).sum()) if len(return_dates) else np.nan
    figures = pd.DataFrame({"index": pd.Series(fi), "benchmark": pd.Series(fb)}).reindex(list(FIGURES)).astype(float)
    figures["active"] = figures["index"] - figures["benchmark"]
    figures.loc["n_returns", "active"] = np.nan

    # Context: month / year to date and since inception.
    bench_levels = pd.Series(np.cumprod(np.concatenate([[1.0], 1.0 + b_all.to_numpy()])), index=sessions) if has_bench else None
    r_all = idx.set_index("date")["daily_return"].astype(float).reindex(sessions[1:][sessions[1:] <= eff])
    ctx_rows: dict[str, tuple[float, float]] = {}
    month_start = pd.Timestamp(eff.year, eff.month, 1)
    year_start = pd.Timestamp(eff.year, 1, 1)
    for name, s in (("month_to_date", month_start), ("year_to_date", year_start), ("since_inception", d0)):
        ctx_rows[name] = (
            _growth_between(levels, s, eff),
            _growth_between(bench_levels, s, eff) if has_bench else np.nan,
        )
    b_inc = b_all.reindex(r_all.index) if has_bench else None
    ctx_rows["inception_volatility"] = (
        m.volatility(r_all, RATIO_MIN_RETURNS),
        m.volatility(b_inc, RATIO_MIN_RETURNS) if has_bench else np.nan,
    )
    ctx_rows["inception_sharpe"] = (
        m.sharpe(r_all, risk_free_rate, RATIO_MIN_RETURNS),
        m.sharpe(b_inc, risk_free_rate, RATIO_MIN_RETURNS) if has_bench else np.nan,
    )
    ctx_rows["inception_max_drawdown"] = (
        m.max_drawdown(r_all, RATIO_MIN_RETURNS),
        m.max_drawdown(b_inc, RATIO_MIN_RETURNS) if has_bench else np.nan,
    )
    context = pd.DataFrame.from_dict(ctx_rows, orient="index", columns=["index", "benchmark"]).reindex(list(CONTEXT)).astype(float)
    context["active"] = context["index"] - context["benchmark"]

    n = len(return_dates)
    if n < RATIO_MIN_RETURNS:
        notes.append(
            f"CAGR, volatility, Sharpe and Sortino need at least {RATIO_MIN_RETURNS} daily returns; "
            f"this period has {n}, so they are n/a."
        )
    if not has_bench:
        notes.append("No benchmark series was given: benchmark figures are n/a.")

    # Contributions and allocation changes.
    contributors = pd.DataFrame(columns=["symbol", "contribution", "avg_weight", "symbol_return"])
    changes = pd.DataFrame(columns=["symbol", "weight_start", "weight_end", "change"])
    source = "none"
    if holdings_or_allocations is None or len(holdings_or_allocations) == 0:
        notes.append("No holdings or allocations were given: no contributors or allocation changes.")
    elif n == 0:
        notes.append("The period has no daily return yet: no contributors or allocation changes.")
    else:
        kind = _detect_kind(holdings_or_allocations, sessions, return_dates, eff) if weights == "auto" else weights
        if kind == "holdings" or returns_wide is not None:
            starts, end_weights, source = _start_of_day_weights(
                holdings_or_allocations, kind, sessions, return_dates, returns_wide, eff
            )
            if returns_wide is not None:
                rets = returns_wide.reindex(index=return_dates, columns=starts.columns).astype(float)
                contrib = (starts * rets.fillna(0.0)).sum(axis=0)
                sym_ret = (1.0 + rets.fillna(0.0)).prod(axis=0) - 1.0
                contributors = (
                    pd.DataFrame(
                        {
                            "symbol": starts.columns,
                            "contribution": contrib.to_numpy(),
                            "avg_weight": starts.mean(axis=0).to_numpy(),
                            "symbol_return": sym_ret.to_numpy(),
                        }
                    )
                    .query("avg_weight > 0 or contribution != 0")
                    .sort_values(["contribution", "symbol"], ascending=[False, True])
                    .reset_index(drop=True)
                )
                gap = float(contributors["contribution"].sum() - r.sum())
                fi_cost = float(idx.set_index("date").get("cost", pd.Series(dtype=float)).reindex(return_dates).fillna(0.0).sum())
                if abs(gap) > 1e-6 + fi_cost * 1.5:
                    notes.append(
                        f"Contributions add up to {_fmt_pp(contributors['contribution'].sum())} against "
                        f"{_fmt_pp(r.sum())} of summed index returns: the weights do not match the index exactly."
                    )
            else:
                notes.append("No returns were given: no contributors.")
            w0 = starts.iloc[0]
            sym = w0.index.union(end_weights.index)
            w0, w1 = w0.reindex(sym).fillna(0.0), end_weights.reindex(sym).fillna(0.0)
            changes = (
                pd.DataFrame({"symbol": sym, "weight_start": w0.to_numpy(), "weight_end": w1.to_numpy()})
                .assign(change=lambda f: f["weight_end"] - f["weight_start"])
                .query("weight_start > 0 or weight_end > 0")
                .sort_values(["change", "symbol"], ascending=[False, True])
                .reset_index(drop=True)
            )
        else:
            notes.append("Allocations without returns cannot be drifted: no contributors or allocation changes.")

    remaining = sessions_between(eff + pd.Timedelta(days=1), pd.Timestamp(end_day), calendar)
    return PerformanceReport(
        strategy=strategy,
        period=period,
        label=label,
        period_start=start_day,
        period_end=end_day,
        as_of=eff.date(),
        first_session=in_period[0].date() if len(in_period) else None,
        n_returns=n,
        complete=len(remaining) == 0,
        figures=figures,
        context=context,
        best_day={"index": _extreme(r, True), "benchmark": _extreme(b, True) if has_bench else None},
        worst_day={"index": _extreme(r, False), "benchmark": _extreme(b, False) if has_bench else None},
        contributors=contributors,
        allocation_changes=changes,
        weights_source=source,
        risk_free_rate=risk_free_rate,
        notes=notes,
    )


# --------------------------------------------------------------------------------------------
# Chart


INDEX_COLOUR = "#1f5fa8"
BENCH_COLOUR = "#8a8a8a"
DRAWDOWN_COLOUR = "#c0392b"


def _levels_for_chart(daily: pd.DataFrame) -> pd.Series:
    d = _prepare_daily(daily)
    if "level" in d.columns and d["level"].notna().all():
        s = d.set_index("date")["level"].astype(float)
    else:
        s = pd.Series(np.cumprod(1.0 + d["daily_return"].fillna(0.0).to_numpy()) * 100.0, index=d["date"])
    return s


def render_chart_png(
    index_daily: pd.DataFrame,
    benchmark_daily: pd.DataFrame | None,
    path: str | Path,
    *,
    title: str | None = None,
    index_label: str = "Index",
    benchmark_label: str = "Benchmark",
    since: dt.date | str | pd.Timestamp | None = None,
    dpi: int = 120,
) -> Path:
    """Index vs benchmark, both rebased to 100 at the first date shown (top, 70% of the
    height), and their drawdowns from the running peak within the window (bottom). Saved as a
    PNG at ``path`` (matplotlib's Agg backend, no display needed); returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    idx = _levels_for_chart(index_daily)
    if since is not None:
        idx = idx[idx.index >= pd.Timestamp(since).normalize()]
    if idx.empty:
        raise ValueError("nothing to draw: the index series is empty")
    idx = idx / idx.iloc[0] * 100.0
    bench = None
    if benchmark_daily is not None and len(benchmark_daily):
        bl = _levels_for_chart(benchmark_daily).reindex(idx.index).ffill()
        if bl.notna().any():
            bench = bl / bl.dropna().iloc[0] * 100.0

    fig = Figure(figsize=(10, 6.2), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2.4, 1]})

    idx_ret = idx.iloc[-1] / 100.0 - 1.0
    top.plot(idx.index, idx.to_numpy(), color=INDEX_COLOUR, lw=2.0, label=f"{index_label} ({idx_ret:+.1%})")
    if bench is not None:
        bench_ret = bench.dropna().iloc[-1] / 100.0 - 1.0
        top.plot(bench.index, bench.to_numpy(), color=BENCH_COLOUR, lw=1.5, label=f"{benchmark_label} ({bench_ret:+.1%})")
    top.axhline(100.0, color="#cccccc", lw=0.8, zorder=0)
    top.set_ylabel("Level (rebased to 100)")
    top.legend(loc="upper left", frameon=False, fontsize=10)
    top.grid(True, color="#eeeeee")
    for series, colour in ((idx, INDEX_COLOUR), (bench, BENCH_COLOUR)):
        if series is not None and series.notna().any():
            last = series.dropna()
            top.annotate(
                f"{last.iloc[-1]:.1f}",
                xy=(last.index[-1], last.iloc[-1]),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=9,
                color=colour,
            )
    first, last_day = idx.index[0].date(), idx.index[-1].date()
    top.set_title(title or f"{index_label} vs {benchmark_label}, {first} to {last_day}", loc="left", fontsize=12)

    dd = idx / idx.cummax() - 1.0
    bdd = None
    bottom.fill_between(dd.index, dd.to_numpy(), 0.0, color=DRAWDOWN_COLOUR, alpha=0.35, lw=0, label=f"{index_label} drawdown")
    bottom.plot(dd.index, dd.to_numpy(), color=DRAWDOWN_COLOUR, lw=1.0)
    if bench is not None:
        bdd = bench / bench.cummax() - 1.0
        bottom.plot(bdd.index, bdd.to_numpy(), color=BENCH_COLOUR, lw=1.2, label=f"{benchmark_label} drawdown")
    worst = dd.idxmin()
    floor = float(min(dd.min(), bdd.min() if bench is not None else 0.0))
    if dd.loc[worst] < 0:
        bottom.annotate(
            f"max {dd.loc[worst]:.1%}",
            xy=(worst, dd.loc[worst]),
            xytext=(8, 0),
            textcoords="offset points",
            fontsize=9,
            color=DRAWDOWN_COLOUR,
            va="center",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85},
        )
    bottom.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    bottom.set_ylabel("Drawdown")
    bottom.set_ylim(floor * 1.15 if floor < 0 else -0.01, 0.0)
    bottom.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False, fontsize=9, borderaxespad=0.2)
    bottom.grid(True, color="#eeeeee")
    locator = AutoDateLocator()
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    for ax in (top, bottom):
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=dpi, facecolor="white")
    return out


# --------------------------------------------------------------------------------------------
# HTML


_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #222; max-width: 960px;
       margin: 24px auto; padding: 0 16px; line-height: 1.45; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
th, td { padding: 4px 12px; border-bottom: 1px solid #eee; } th { text-align: left; background: #f6f6f6; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.pos { color: #1e7d32; } .neg { color: #b3261e; } .muted { color: #777; font-size: 13px; }
img { max-width: 100%; border: 1px solid #eee; }
"""


def _cls(x: Any) -> str:
    if _isnan(x):
        return "num muted"
    return "num pos" if float(x) > 0 else ("num neg" if float(x) < 0 else "num")


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[tuple[str, str]]]) -> str:
    num = ' class="num"'
    head = "".join(f"<th{num if i else ''}>{html.escape(h)}</th>" for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="{c}">{html.escape(t)}</td>' for t, c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _metric_rows(frame: pd.DataFrame) -> list[list[tuple[str, str]]]:
    rows = []
    for metric, row in frame.iterrows():
        signed = metric not in ("volatility", "inception_volatility", "turnover", "n_returns", "win_rate")
        rows.append(
            [
                (LABELS[metric], ""),
                (_fmt(metric, row["index"]), _cls(row["index"]) if signed else "num"),
                (_fmt(metric, row["benchmark"]), _cls(row["benchmark"]) if signed else "num"),
                (_fmt_active(metric, row["active"]), _cls(row["active"]) if metric != "n_returns" else "num"),
            ]
        )
    return rows


def render_html(report: PerformanceReport, chart_png: str | Path | bytes | None = None, *, embed: bool = True, top_n: int = 5) -> str:
    """A self-contained HTML page of the report. ``chart_png``: PNG bytes or a path; embedded
    as base64 (``embed=True``, one file to mail or store) or linked by file name (the page is
    then meant to sit next to the PNG)."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
        f"<p>{html.escape(report.headline())}</p>",
    ]
    if chart_png is not None:
        if isinstance(chart_png, (bytes, bytearray)) or embed:
            data = bytes(chart_png) if isinstance(chart_png, (bytes, bytearray)) else Path(chart_png).read_bytes()
            src = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        else:
            src = html.escape(Path(chart_png).name)
        parts.append(f"<img src=\"{src}\" alt=\"Index vs benchmark and drawdown\">")
    head = ["", "Index", "Benchmark", "Active"]
    parts += ["<h2>Figures</h2>", _html_table(head, _metric_rows(report.figures))]
    extremes = []
    for side in ("index", "benchmark"):
        best, worst = report.best_day.get(side), report.worst_day.get(side)
        if best and worst:
            extremes.append(
                f"{side.capitalize()}: best day {best[0].isoformat()} ({_pct(best[1], True)}), "
                f"worst day {worst[0].isoformat()} ({_pct(worst[1], True)})."
            )
    if extremes:
        parts.append("<p class='muted'>" + "<br>".join(html.escape(e) for e in extremes) + "</p>")
    parts += ["<h2>Context</h2>", _html_table(head, _metric_rows(report.context))]
    if len(report.contributors):
        parts.append(f"<h2>Contributors <span class='muted'>({html.escape(report.weights_source)})</span></h2>")
        for name, frame in (("Top", report.top_contributors(top_n)), ("Bottom", report.bottom_contributors(top_n))):
            if len(frame):
                rows = [
                    [
                        (r.symbol, ""),
                        (_fmt_pp(r.contribution), _cls(r.contribution)),
                        (_pct(r.avg_weight), "num"),
                        (_pct(r.symbol_return, True), _cls(r.symbol_return)),
                    ]
                    for r in frame.itertuples(index=False)
                ]
                parts.append(f"<p><b>{name}</b></p>" + _html_table(["Symbol", "Contribution", "Avg weight", "Return"], rows))
    if len(report.allocation_changes):
        parts.append("<h2>Allocation changes</h2>")
        moves = (("Biggest increases", report.biggest_increases(top_n)), ("Biggest decreases", report.biggest_decreases(top_n)))
        for name, frame in moves:
            if len(frame):
                rows = [
                    [(r.symbol, ""), (_pct(r.weight_start), "num"), (_pct(r.weight_end), "num"), (_fmt_pp(r.change), _cls(r.change))]
                    for r in frame.itertuples(index=False)
                ]
                parts.append(f"<p><b>{name}</b></p>" + _html_table(["Symbol", "Start", "End", "Change"], rows))
    if report.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in report.notes) + "</ul>")
    parts.append(
        f"<p class='muted'>Risk-free rate {report.risk_free_rate:.2%} a year; 252 sessions a year; "
        f"ratios need at least {RATIO_MIN_RETURNS} daily returns.</p></body></html>"
    )
    return "\n".join(parts)
