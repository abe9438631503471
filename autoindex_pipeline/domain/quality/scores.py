"""Quality scores per symbol, the portfolio score gate, the (session x symbol) grid and its trend."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from autoindex_pipeline.domain.quality.frames import _active_bounds, _prices, _sessions, _to_naive_dates, _valid_close
from autoindex_pipeline.domain.quality.outcome import CheckOutcome, _offending, _outcome
from autoindex_pipeline.domain.quality.rules import ERROR, ROW_CHECKS, severity_of

GREEN, YELLOW, RED, GREY = "green", "yellow", "red", "grey"
GREEN_ABOVE = 0.95
"""A quality score strictly above this is green."""
RED_BELOW = 0.85
"""A quality score strictly below this is red; in between (both ends included) is yellow."""
MIN_PORTFOLIO_SCORE = 0.9
"""Downstream assets (allocations) run only when the portfolio score is at least this."""

CELL_OK, CELL_WARN, CELL_ERROR = 1.0, 0.9, 0.0
"""Values of a (symbol, session) cell of :func:`daily_quality`: every check passed; only
warnings; an error or no valid close. They sit in the green, yellow and red bands."""


def score_colour(scores: pd.Series | np.ndarray | float) -> Any:
    """green > 0.95, yellow 0.85..0.95 (both ends), red < 0.85, grey when not scored."""
    s = np.asarray(scores, dtype=float)
    out = np.select([np.isnan(s), s > GREEN_ABOVE, s >= RED_BELOW], [GREY, GREEN, YELLOW], default=RED)
    if np.ndim(out) == 0:
        return str(out)
    return pd.Series(out, index=scores.index) if isinstance(scores, pd.Series) else out




def quality_scores(
    outcomes: Iterable[CheckOutcome],
    *,
    symbols: Sequence[str] | None = None,
    missing_fails_all: bool = True,
) -> pd.DataFrame:
    """Per symbol: score = mean of its check pass rates (over the checks that evaluated it).

    A session without a valid close passes no check (``missing_fails_all``, default): the
    pass rates of the row checks (:data:`ROW_CHECKS`) are taken over the symbol's expected
    sessions, i.e. multiplied by its completeness when a ``completeness`` outcome is given.
    Otherwise a symbol missing a third of its sessions would score (0.67 + 6 x 1.0) / 7 = 0.95,
    green, because its few rows are clean; with it, it scores about 0.7, red, as the grid shows.

    Columns: symbol, score, colour, checks (how many rated it), worst_check, worst_rate, then one
    column per check with its pass rate (as scored). Sorted worst first. ``symbols`` adds
    unrated symbols (score NaN, grey).
    """
    outcomes = list(outcomes)
    coverage = next((o.per_symbol_pass_rate for o in outcomes if o.name == "completeness"), None)
    rates: dict[str, pd.Series] = {}
    for o in outcomes:
        if len(o.per_symbol_pass_rate) == 0:
            continue
        name, k = o.name, 2
        while name in rates:
            name, k = f"{o.name}_{k}", k + 1
        rate = o.per_symbol_pass_rate.astype(float)
        if missing_fails_all and coverage is not None and o.name in ROW_CHECKS:
            rate = rate * coverage.reindex(rate.index).fillna(1.0)
        rates[name] = rate
    table = pd.DataFrame(rates)
    if symbols is not None:
        table = table.reindex(table.index.union(pd.Index(list(symbols), dtype=object)))
    table.index = table.index.astype(object)
    table.index.name = "symbol"
    score = table.mean(axis=1, skipna=True) if len(table.columns) else pd.Series(np.nan, index=table.index)
    out = pd.DataFrame({"symbol": table.index.to_numpy(dtype=object), "score": score.to_numpy(dtype=float)})
    out["colour"] = score_colour(out["score"].to_numpy())
    out["checks"] = table.notna().sum(axis=1).to_numpy()
    if len(table.columns):
        filled = table.fillna(np.inf)
        out["worst_check"] = np.where(out["checks"] > 0, filled.idxmin(axis=1).to_numpy(dtype=object), None)
        out["worst_rate"] = table.min(axis=1).to_numpy()
    else:
        out["worst_check"], out["worst_rate"] = None, np.nan
    out = pd.concat([out, table.reset_index(drop=True)], axis=1)
    return out.sort_values(["score", "symbol"], na_position="last", kind="stable").reset_index(drop=True)


def portfolio_score(scores: pd.DataFrame, weights: pd.Series | Mapping[str, float] | None = None) -> float:
    """The mean of the symbol scores (equal weights: every constituent's data matters, and the
    allocations that would weight them do not exist yet when the gate runs). ``weights``
    (symbol -> weight) gives a weighted mean instead. NaN scores are left out; NaN when none."""
    s = scores.set_index("symbol")["score"].astype(float).dropna() if len(scores) else pd.Series(dtype=float)
    if s.empty:
        return float("nan")
    if weights is None:
        return float(s.mean())
    w = pd.Series(weights, dtype=float).reindex(s.index).fillna(0.0)
    return float((s * w).sum() / w.sum()) if w.sum() > 0 else float("nan")


def check_portfolio_score(scores: pd.DataFrame, min_score: float = MIN_PORTFOLIO_SCORE, weights: pd.Series | Mapping[str, float] | None = None) -> CheckOutcome:
    """The gate before allocations: portfolio score >= ``min_score`` (0.9). When it fails, the
    symbols scoring below ``min_score`` are the offending rows (worst first). ERROR."""
    severity = severity_of("portfolio_quality_score")
    value = portfolio_score(scores, weights)
    failed = not (value >= min_score)
    low = scores[scores["score"] < min_score] if failed else scores.iloc[0:0]
    off = _offending(low["symbol"].to_numpy(), pd.NaT, low["score"].to_numpy(), [f"quality score {s:.3f} ({c})" for s, c in zip(low["score"], low["colour"])], severity)
    if failed and off.empty:
        off = _offending(["*"], [pd.NaT], [value], ["no symbol could be scored" if np.isnan(value) else f"portfolio score {value:.3f}"], severity)
    counts = scores["colour"].value_counts().to_dict() if len(scores) else {}
    return _outcome("portfolio_quality_score", off, severity=severity, observed=value, threshold=min_score,
                    description=f"mean symbol quality score >= {min_score:g}", evaluated=int(scores["score"].notna().sum()) if len(scores) else 0,
                    scope="table", details={"colours": {k: int(v) for k, v in counts.items()}}, passed=not failed)


def daily_quality(
    prices: pd.DataFrame,
    sessions: pd.DatetimeIndex,
    outcomes: Iterable[CheckOutcome],
    *,
    listing: pd.DataFrame | None = None,
    symbols: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The (session x symbol) status grid behind the picture and the trend.

    A cell is :data:`CELL_OK` (1.0) when every check passed on that session, :data:`CELL_WARN`
    (0.9) when only warnings name it, :data:`CELL_ERROR` (0.0) when an ERROR row names it or
    the symbol has no valid close on a session of its active range, and NaN outside the active
    range (same rules as :func:`check_completeness`). The values sit in the score colour
    bands, so the grid is coloured like the scores. Only outcomes of scope ``row`` mark cells.
    """
    frame = _prices(prices, ("symbol", "date", "close"))
    sessions = _sessions(sessions, frame)
    names, lo, hi = _active_bounds(frame, sessions, listing, symbols)
    n_t, n_s = len(sessions), len(names)
    t = np.arange(n_t)[:, None]
    active = (t >= lo[None, :]) & (t <= hi[None, :])
    grid = np.where(active, CELL_OK, np.nan)
    sub = frame[frame["date"].isin(sessions) & _valid_close(frame["close"])]
    s_code = names.get_indexer(sub["symbol"])
    ok = s_code >= 0
    present = np.zeros((n_t, n_s), dtype=bool)
    present[sessions.searchsorted(sub["date"].to_numpy()[ok]), s_code[ok]] = True
    grid[active & ~present] = CELL_ERROR
    marks = [o.offending.loc[:, ["symbol", "date", "severity"]] for o in outcomes if o.scope == "row" and len(o.offending)]
    if marks:
        off = pd.concat(marks, ignore_index=True)
        off["date"] = _to_naive_dates(off["date"]).to_numpy()
        s_i = names.get_indexer(off["symbol"].astype(str))
        t_i = sessions.get_indexer(off["date"])
        keep = (s_i >= 0) & (t_i >= 0)
        value = np.where(off["severity"].to_numpy() == ERROR, CELL_ERROR, CELL_WARN)[keep]
        cur = grid[t_i[keep], s_i[keep]]
        np.minimum.at(grid, (t_i[keep], s_i[keep]), np.where(np.isnan(cur), np.nan, value))
    out = pd.DataFrame(grid, index=pd.DatetimeIndex(sessions, name="date"), columns=pd.Index(names, name="symbol"))
    return out


def compact_grid(grid: pd.DataFrame, freq: str | None = "W") -> pd.DataFrame:
    """The grid per period (``W`` weeks, ``M`` months, None = as is): the WORST cell of each
    (period, symbol), so one bad day stays visible. Index: each period's first session."""
    if freq is None or grid.empty:
        return grid
    periods = grid.index.to_period(freq)
    out = grid.groupby(periods).min()
    first = pd.Series(grid.index, index=grid.index).groupby(periods).min()
    out.index = pd.DatetimeIndex(first.reindex(out.index).to_numpy(), name="date")
    return out


def quality_trend(grid: pd.DataFrame, freq: str | None = "W") -> pd.DataFrame:
    """Per period: mean cell value over active (symbol, session) cells (``score``), the share
    of ok / warn / error cells, and how many symbols had an error. Columns: date (period's first
    session), score, ok, warn, error, symbols_with_errors, symbols."""
    if grid.empty:
        return pd.DataFrame(columns=["date", "score", "ok", "warn", "error", "symbols_with_errors", "symbols"])
    key = grid.index.to_period(freq) if freq else grid.index
    values = grid.to_numpy()
    active = ~np.isnan(values)
    cells = pd.DataFrame(
        {
            "key": np.repeat(np.asarray(key), values.shape[1]),
            "value": values.ravel(),
            "ok": (values == CELL_OK).ravel(),
            "warn": (values == CELL_WARN).ravel(),
            "error": (values == CELL_ERROR).ravel(),
            "active": active.ravel(),
        }
    )
    cells = cells[cells["active"]]
    agg = cells.groupby("key", sort=True).agg(score=("value", "mean"), ok=("ok", "mean"), warn=("warn", "mean"), error=("error", "mean"))
    err_sym = pd.DataFrame(values == CELL_ERROR, index=key).groupby(level=0).any().sum(axis=1)
    act_sym = pd.DataFrame(active, index=key).groupby(level=0).any().sum(axis=1)
    first = pd.Series(grid.index, index=key).groupby(level=0).min()
    agg["symbols_with_errors"] = err_sym.reindex(agg.index).to_numpy()
    agg["symbols"] = act_sym.reindex(agg.index).to_numpy()
    agg.insert(0, "date", first.reindex(agg.index).to_numpy())
    return agg.reset_index(drop=True)
