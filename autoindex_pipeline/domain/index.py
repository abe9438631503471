"""Index level from target weights (methodology section 7). Pure and vectorised.

Conventions, exactly as a bt backtest with target weights, fractional positions and no
commissions (the cross-check test proves agreement to 1e-9):

- the index is 100.0 at the close of the base date ``D0``, holding the ``D0`` targets;
- holdings ``h`` (weights after the close of t-1) drift with the assets' returns (buy and hold):
  ``R_t = sum_i h_i r[t,i]`` with a missing return counting as 0, ``I_t = I_{t-1} (1 + R_t)``,
  ``h_i <- h_i (1 + r[t,i]) / (1 + R_t)``;
- at a rebalance date ``D > D0`` (a date with target rows), ``I_D`` is computed from the drifted
  holdings, then the targets replace them. Turnover ``TO_D = sum_i |w_i - h_i|`` over both legs;
  the cost ``transaction_cost_bps / 1e4 * TO_D`` is taken off the level:
  ``I_D <- I_D (1 - cost)``. A rebalance date without target rows (no eligible asset) keeps the
  drifted holdings.

Within a holding period the recursion is evaluated in one go: with ``h0`` the weights at the
start and ``G`` the cumulative product of ``1 + r`` since then, ``I_t = I_start * (G_t @ h0)``
and ``h_t = h0 * G_t / (G_t @ h0)`` (equal to the daily recursion in exact arithmetic). The
only Python loop is over holding periods.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autoindex_pipeline.domain.calendar import DateLike

BASE_LEVEL = 100.0
INDEX_COLUMNS = ("date", "level", "daily_return", "turnover", "cost", "is_rebalance")


@dataclass(frozen=True, eq=False)
class IndexState:
    """The index after the close of ``date``: its level and the weights it holds (summing to 1,
    drifted since the last rebalance). Enough to extend the index to later sessions.
    (No ``==``: comparing pandas Series is elementwise; compare ``to_dict()`` instead.)"""

    date: pd.Timestamp
    level: float
    holdings: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict; floats survive a JSON round trip exactly (repr is exact)."""
        return {
            "date": pd.Timestamp(self.date).date().isoformat(),
            "level": float(self.level),
            "holdings": {str(k): float(v) for k, v in self.holdings.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexState:
        holdings = pd.Series(data.get("holdings", {}), dtype=float)
        holdings.index.name = "symbol"
        return cls(date=pd.Timestamp(data["date"]).normalize(), level=float(data["level"]), holdings=holdings)


class _Targets:
    """The target frame as arrays: dates, weights and factorised symbols.

    Boolean-indexing a long frame with a string column copies every string, and looking up
    100k+ string labels one by one is slow; factorising once and working on integer codes keeps
    a one-session incremental step in milliseconds.
    """

    def __init__(self, targets: pd.DataFrame) -> None:
        self.dates = pd.DatetimeIndex(targets["date"]).as_unit("ns").to_numpy()
        self.weights = targets["weight"].to_numpy(dtype=float)
        self.codes, uniques = pd.factorize(targets["symbol"])
        self.symbols = pd.Index(uniques, dtype=object)

    def holdings_on(self, date: pd.Timestamp) -> pd.Series:
        mask = self.dates == date.as_unit("ns").to_datetime64()
        return pd.Series(self.weights[mask], index=self.symbols[self.codes[mask]], dtype=float)

    def window(self, start: pd.Timestamp, last: pd.Timestamp) -> np.ndarray:
        return (self.dates > start.as_unit("ns").to_datetime64()) & (self.dates <= last.as_unit("ns").to_datetime64())

    def wide(self, mask: np.ndarray, dates: pd.DatetimeIndex, symbols: pd.Index) -> np.ndarray:
        """(dates x symbols) weights of the rows in ``mask``, 0 where a symbol has no row."""
        out = np.zeros((len(dates), len(symbols)))
        keys = dates.as_unit("ns").to_numpy()
        wanted = self.dates[mask]
        # ``dates`` is sorted: a binary search places each row; rows dated off it are ignored.
        rows = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
        found = (keys[rows] == wanted) if len(keys) else np.zeros(len(wanted), dtype=bool)
        cols = symbols.get_indexer(self.symbols)[self.codes[mask]]
        out[rows[found], cols[found]] = self.weights[mask][found]
        return out


def compute_index(
    returns: pd.DataFrame,
    targets: pd.DataFrame,
    base_date: DateLike,
    transaction_cost_bps: float = 0.0,
    state: IndexState | None = None,
    end: DateLike | None = None,
) -> tuple[pd.DataFrame, IndexState]:
    """Daily index rows and the state after the last one.

    ``returns``: cleaned clipped returns, sessions x symbols (``cleaning.daily_returns``).
    ``targets``: long frame with at least date, symbol, weight (``strategy.target_weights``);
    its dates are the rebalance dates. ``base_date``: D0 (``strategy.base_date``).

    Fresh (``state`` None): rows from D0 (level 100, daily_return NaN, turnover NaN - the initial
    purchase is not a rebalance trade and is not charged - cost 0, is_rebalance True) to
    ``end``. Incremental: rows for the sessions after ``state.date`` up to ``end``; the result
    equals a full recompute to floating-point rounding (~1e-15 relative).

    Columns: date, level, daily_return (``I_t / I_{t-1} - 1``, after costs), turnover (0 on
    non-rebalance days), cost (the fraction of the level paid, ``bps / 1e4 * turnover``),
    is_rebalance. ``end`` defaults to the last session of ``returns``.
    """
    d0 = pd.Timestamp(base_date).normalize()
    last = returns.index[-1] if end is None else pd.Timestamp(end).normalize()
    rate = transaction_cost_bps / 1e4
    table = _Targets(targets)

    if state is None:
        start = d0
        holdings = table.holdings_on(d0)
        if holdings.empty:
            raise ValueError(f"no target weights at the base date {d0.date()}")
        level = BASE_LEVEL
        head = [{"date": d0, "level": level, "daily_return": np.nan, "turnover": np.nan, "cost": 0.0, "is_rebalance": True}]
    else:
        start = pd.Timestamp(state.date).normalize()
        if start < d0:
            raise ValueError(f"state date {start.date()} is before the base date {d0.date()}")
        holdings = state.holdings.astype(float)
        if not (holdings > 0).any():
            raise ValueError(f"the stored state of {start.date()} holds nothing: recompute from the base date")
        level = float(state.level)
        head = []

    plan = _plan(returns, table, start, holdings, last)
    sessions, symbols, h = plan.sessions, plan.symbols, plan.start_weights
    n = len(sessions)
    levels = np.empty(n)
    turnover = np.zeros(n)
    cost = np.zeros(n)
    is_rebalance = np.zeros(n, dtype=bool)
    is_rebalance[plan.rebalance_pos] = True
    for segment in _holding_periods(plan):
        lo, hi = segment.lo, segment.hi
        levels[lo : hi + 1] = level * segment.value
        if segment.rebalanced:
            turnover[hi] = np.abs(segment.after - segment.drifted).sum()
            cost[hi] = rate * turnover[hi]
            levels[hi] *= 1.0 - cost[hi]
        h = segment.after
        level = levels[hi]

    previous = np.concatenate([[state.level if state is not None else BASE_LEVEL], levels[:-1]]) if n else np.empty(0)
    body = pd.DataFrame(
        {
            "date": sessions.astype("datetime64[ns]"),
            "level": levels,
            "daily_return": levels / previous - 1.0,
            "turnover": turnover,
            "cost": cost,
            "is_rebalance": is_rebalance,
        }
    )
    daily = pd.concat([pd.DataFrame(head, columns=list(INDEX_COLUMNS)), body], ignore_index=True) if head else body
    daily["date"] = pd.to_datetime(daily["date"]).astype("datetime64[ns]")
    daily["is_rebalance"] = daily["is_rebalance"].astype(bool)
    final_date = sessions[-1] if n else start
    held = pd.Series(h, index=symbols, dtype=float)
    held = held[held > 0]
    held.index.name = "symbol"
    return daily.loc[:, list(INDEX_COLUMNS)], IndexState(date=pd.Timestamp(final_date), level=float(level), holdings=held)


@dataclass(frozen=True)
class _Plan:
    """The sessions after ``start`` up to ``last`` as arrays: growth factors, the rebalances
    among them and their target weights, on one symbol axis."""

    sessions: pd.DatetimeIndex
    symbols: pd.Index
    start_weights: np.ndarray
    growth: np.ndarray
    new_weights: np.ndarray
    rebalance_pos: np.ndarray


@dataclass(frozen=True)
class _Segment:
    """One holding period: sessions ``lo..hi`` (positions) held from ``held``; ``value`` is
    ``G_t @ held``, ``drifted`` the weights after the close of ``hi`` before any trade and
    ``after`` the weights carried into the next period (the targets when ``hi`` rebalances)."""

    lo: int
    hi: int
    held: np.ndarray
    growth: np.ndarray
    value: np.ndarray
    drifted: np.ndarray
    after: np.ndarray
    rebalanced: bool


def _plan(returns: pd.DataFrame, table: _Targets, start: pd.Timestamp, holdings: pd.Series, last: pd.Timestamp) -> _Plan:
    index = returns.index
    sessions = index[(index > start) & (index <= last)]
    upcoming = table.window(start, last)
    rebalances = sessions[sessions.isin(pd.unique(table.dates[upcoming]))]
    symbols = pd.Index(holdings.index.union(table.symbols[pd.unique(table.codes[upcoming])]), dtype=object)
    return _Plan(
        sessions=sessions,
        symbols=symbols,
        start_weights=holdings.reindex(symbols).fillna(0.0).to_numpy(),
        growth=1.0 + np.nan_to_num(returns.reindex(index=sessions, columns=symbols).to_numpy(dtype=float), nan=0.0),
        new_weights=table.wide(upcoming, rebalances, symbols),
        rebalance_pos=sessions.get_indexer(rebalances),
    )


def _holding_periods(plan: _Plan) -> Iterator[_Segment]:
    """THE drift: each holding period in one go (see the module doc)."""
    n = len(plan.sessions)
    pos = plan.rebalance_pos
    # Segment k ends at the k-th rebalance (inclusive); the last one ends at the last session.
    ends = list(pos) + ([n - 1] if n and (len(pos) == 0 or pos[-1] != n - 1) else [])
    h = plan.start_weights
    lo = 0
    for k, hi in enumerate(ends):
        g = np.cumprod(plan.growth[lo : hi + 1], axis=0)
        value = g @ h
        with np.errstate(invalid="ignore", divide="ignore"):
            drifted = np.where(value[-1] > 0, h * g[-1] / value[-1], h)
        rebalanced = k < len(pos)
        after = plan.new_weights[k] if rebalanced else drifted
        yield _Segment(lo, hi, h, g, value, drifted, after, rebalanced)
        h = after
        lo = hi + 1


def start_of_day_holdings(
    returns: pd.DataFrame,
    targets: pd.DataFrame,
    start: DateLike,
    end: DateLike | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """The weights the index holds at the start of every session after ``start`` up to ``end``
    (sessions x symbols: the holdings after the previous close, after its rebalance), and the
    weights held after the close of ``end``.

    ``start`` must be a date with target rows (a rebalance, or D0): the index holds exactly
    those targets after its close. From there the holdings drift as in :func:`compute_index`
    (same code path), so ``sum_i w[t, i] * r[t, i]`` is the index's return of session t before
    costs. ``returns`` and ``targets`` as for :func:`compute_index`.
    """
    origin = pd.Timestamp(start).normalize()
    last = returns.index[-1] if end is None else pd.Timestamp(end).normalize()
    table = _Targets(targets)
    holdings = table.holdings_on(origin)
    if holdings.empty:
        raise ValueError(f"no target weights on {origin.date()} to start the holdings from")
    plan = _plan(returns, table, origin, holdings, last)
    rows = np.empty((len(plan.sessions), len(plan.symbols)))
    h = plan.start_weights
    for segment in _holding_periods(plan):
        lo, hi, held = segment.lo, segment.hi, segment.held
        rows[lo] = held
        value = segment.value[:-1, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            rows[lo + 1 : hi + 1] = np.where(value > 0, held * segment.growth[:-1] / value, held)
        h = segment.after
    return (
        pd.DataFrame(rows, index=plan.sessions, columns=plan.symbols),
        pd.Series(h, index=plan.symbols, dtype=float),
    )


def benchmark_levels(
    returns_benchmark: pd.Series,
    base_date: DateLike,
    end: DateLike | None = None,
    level_at_base: float = BASE_LEVEL,
    include_base: bool = True,
) -> pd.DataFrame:
    """The benchmark rebased to ``level_at_base`` (100) at the close of ``base_date``.

    It compounds the benchmark's *cleaned, clipped* daily returns (a missing return counts as 0,
    as for the index), not the ratio of raw closes: the level is then exactly the series whose
    daily returns ``b`` enter the metrics (beta, tracking error, ...), and a bad tick or gap is
    treated the same way as in the index. Columns: date, level, daily_return (NaN on the base
    row). To extend a stored series, pass its last date and level with ``include_base=False``.
    """
    start = pd.Timestamp(base_date).normalize()
    index = returns_benchmark.index
    last = index[-1] if end is None else pd.Timestamp(end).normalize()
    window = returns_benchmark[(index > start) & (index <= last)].astype(float).fillna(0.0)
    levels = level_at_base * np.cumprod(1.0 + window.to_numpy())
    body = pd.DataFrame({"date": window.index, "level": levels, "daily_return": window.to_numpy()})
    if include_base:
        head = pd.DataFrame({"date": [start], "level": [float(level_at_base)], "daily_return": [np.nan]})
        body = pd.concat([head, body], ignore_index=True) if len(body) else head
    body["date"] = pd.to_datetime(body["date"]).astype("datetime64[ns]")
    return body.reset_index(drop=True)
