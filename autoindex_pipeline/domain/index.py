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
and ``h_t = h0 * G_t / (G_t @ h0)`` (equal to the daily recursion in exact arithmetic).

Every period's starting weights are known before any drift (the start state, then each
rebalance's targets), so the inputs become arrays once - the targets sorted by date and
scattered into one (rebalances x symbols) matrix, ``1 + r`` one (sessions x symbols) matrix,
written run by run just before it is drifted - and turnover and costs are computed for all
rebalances in one go. What stays in Python: per run of consecutive periods of one length, the
cumulative product row by row (the t-th rows of all its periods in one call) and one stacked
matrix-vector product (one BLAS call per period); and the scalar chain of levels from period to
period (each in the order of the daily recursion, so the numbers are those of the per-period
evaluation, bit for bit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import isfinite
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
    """The target frame as arrays sorted by date (stable: a date's rows keep their order).

    A window of rebalance dates is then a slice found by binary search, and only the window's
    symbols are factorised: hashing the symbol strings is the costly part, so a one-session
    incremental step touches one date's rows and a full run every row once.
    """

    def __init__(self, targets: pd.DataFrame) -> None:
        column = targets["date"]
        dates = column.to_numpy() if column.dtype == "datetime64[ns]" else pd.DatetimeIndex(column).as_unit("ns").to_numpy()
        self.keys = dates.view("i8")
        self.weights = targets["weight"].to_numpy(dtype=float)
        self.symbol_column = targets["symbol"]
        if len(self.keys) > 1 and not (self.keys[1:] >= self.keys[:-1]).all():
            order = np.argsort(self.keys, kind="stable")
            self.keys, self.weights = self.keys[order], self.weights[order]
            self.symbol_column = self.symbol_column.take(order)

    def span(self, start: pd.Timestamp, last: pd.Timestamp) -> slice:
        """The rows dated after ``start``, up to ``last`` included."""
        return slice(*(int(i) for i in np.searchsorted(self.keys, [_ns(start), _ns(last)], side="right")))

    def holdings_on(self, date: pd.Timestamp) -> pd.Series:
        key = _ns(date)
        lo, hi = int(np.searchsorted(self.keys, key, side="left")), int(np.searchsorted(self.keys, key, side="right"))
        symbols = pd.Index(self.symbol_column.iloc[lo:hi].to_numpy(dtype=object), dtype=object)
        return pd.Series(self.weights[lo:hi], index=symbols, dtype=float)


def _ns(date: pd.Timestamp) -> int:
    return int(pd.Timestamp(date).as_unit("ns").value)


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
    else:
        start = pd.Timestamp(state.date).normalize()
        if start < d0:
            raise ValueError(f"state date {start.date()} is before the base date {d0.date()}")
        holdings = state.holdings.astype(float)
        if not (holdings > 0).any():
            raise ValueError(f"the stored state of {start.date()} holds nothing: recompute from the base date")
        level = float(state.level)

    plan = _plan(returns, table, start, holdings, last)
    drift = _drift(plan)
    n, k = len(plan.sessions), len(plan.rebalance_pos)
    turnover = np.zeros(n)
    cost = np.zeros(n)
    is_rebalance = np.zeros(n, dtype=bool)
    is_rebalance[plan.rebalance_pos] = True
    if k:
        # In the drifted rows' own buffer: past the trades only its last row is read (the
        # holdings after the last session when that is not a rebalance).
        traded = np.subtract(plan.new_weights, drift.drifted[:k], out=drift.drifted[:k])
        turnover[plan.rebalance_pos] = np.abs(traded, out=traded).sum(axis=1)
        cost[plan.rebalance_pos] = rate * turnover[plan.rebalance_pos]
    # The level carried from period to period, in the order of the daily recursion:
    # I_hi = (I_start * value_hi) * (1 - cost_hi). Scalars only: one multiplication each.
    start_levels = np.empty(len(drift.ends))
    for j, (value_end, paid) in enumerate(zip(drift.value[drift.ends].tolist(), cost[drift.ends].tolist(), strict=True)):
        start_levels[j] = level
        level = level * value_end
        if j < k:
            level = level * (1.0 - paid)
    levels = np.repeat(start_levels, drift.ends - drift.starts + 1) * drift.value
    levels[plan.rebalance_pos] *= 1.0 - cost[plan.rebalance_pos]
    if len(drift.ends) == 0:
        h = plan.start_weights
    else:
        h = plan.new_weights[-1] if k == len(drift.ends) else drift.drifted[-1]

    previous = np.empty(n)
    if n:
        previous[0] = state.level if state is not None else BASE_LEVEL
        previous[1:] = levels[:-1]
    dates = plan.sessions.astype("datetime64[ns]").to_numpy()
    daily_return = levels / previous - 1.0
    if state is None:
        # The base row: D0 holding its targets, no trade charged.
        dates = np.concatenate([[d0.as_unit("ns").to_datetime64()], dates])
        levels = np.concatenate([[BASE_LEVEL], levels])
        daily_return = np.concatenate([[np.nan], daily_return])
        turnover = np.concatenate([[np.nan], turnover])
        cost = np.concatenate([[0.0], cost])
        is_rebalance = np.concatenate([[True], is_rebalance])
    daily = pd.DataFrame(
        {"date": dates, "level": levels, "daily_return": daily_return, "turnover": turnover, "cost": cost,
         "is_rebalance": is_rebalance},
        columns=list(INDEX_COLUMNS),
    )
    final_date = plan.sessions[-1] if n else start
    held = pd.Series(h, index=plan.symbols, dtype=float)
    held = held[held > 0]
    held.index.name = "symbol"
    return daily, IndexState(date=pd.Timestamp(final_date), level=float(level), holdings=held)


@dataclass(frozen=True)
class _Plan:
    """The sessions after ``start`` up to ``last`` as arrays: their returns, the rebalances
    among them and their target weights, on one symbol axis."""

    sessions: pd.DatetimeIndex
    symbols: pd.Index
    start_weights: np.ndarray
    returns: _Growth
    new_weights: np.ndarray
    rebalance_pos: np.ndarray

    def held(self, periods: int) -> np.ndarray:
        """The weights held at the start of each of the first ``periods`` holding periods: the
        start weights, then each rebalance's targets (one row each)."""
        return np.vstack([self.start_weights[None, :], self.new_weights])[:periods]


@dataclass(frozen=True)
class _Drift:
    """Every holding period at once. Period ``j`` holds ``plan.held(...)[j]`` over sessions
    ``starts[j]..ends[j]`` (positions; it ends at the j-th rebalance, the last one possibly at
    the last session). ``growth`` row t is ``G_t``, the cumulative product of ``1 + r`` since its
    period began; ``value[t] = G_t @ held[j]``; ``drifted[j]`` the weights after the close of
    ``ends[j]`` before any trade."""

    starts: np.ndarray
    ends: np.ndarray
    growth: np.ndarray
    value: np.ndarray
    drifted: np.ndarray


def _plan(returns: pd.DataFrame, table: _Targets, start: pd.Timestamp, holdings: pd.Series, last: pd.Timestamp) -> _Plan:
    index = returns.index
    monotonic = index.is_monotonic_increasing
    if monotonic:
        rows: slice | np.ndarray = slice(int(index.searchsorted(start, "right")), int(index.searchsorted(last, "right")))
    else:
        rows = np.flatnonzero((index > start) & (index <= last))
    sessions = index[rows]
    window = table.span(start, last)
    codes, uniques = pd.factorize(table.symbol_column.iloc[window])
    symbols = pd.Index(holdings.index.union(pd.Index(uniques, dtype=object)), dtype=object)

    # Rebalances: the sessions with target rows (rows dated off the sessions are ignored).
    keys = table.keys[window]
    first_of_date = np.ones(len(keys), dtype=bool)
    first_of_date[1:] = keys[1:] != keys[:-1]
    firsts = np.flatnonzero(first_of_date)
    dates = keys[firsts]
    session_keys = sessions.as_unit("ns").asi8
    if monotonic:
        at = np.minimum(np.searchsorted(session_keys, dates), max(len(session_keys) - 1, 0))
        found = (session_keys[at] == dates) if len(session_keys) else np.zeros(len(dates), dtype=bool)
    else:
        at = pd.Index(session_keys).get_indexer(dates)
        found = at >= 0
    order = np.argsort(at[found], kind="stable")
    rebalance_pos = at[found][order]
    slot = np.full(len(dates), -1)
    slot[np.flatnonzero(found)[order]] = np.arange(len(rebalance_pos))
    row_slot = np.repeat(slot, np.diff(np.append(firsts, len(keys))))
    row_cols = symbols.get_indexer(uniques)[codes]
    weights = table.weights[window]
    if not found.all():
        keep = row_slot >= 0
        row_slot, row_cols, weights = row_slot[keep], row_cols[keep], weights[keep]
    new_weights = np.zeros((len(rebalance_pos), len(symbols)))
    new_weights[row_slot, row_cols] = weights

    return _Plan(
        sessions=sessions,
        symbols=symbols,
        start_weights=holdings.reindex(symbols).fillna(0.0).to_numpy(),
        returns=_Growth(returns, rows, symbols),
        new_weights=new_weights,
        rebalance_pos=rebalance_pos,
    )


class _Growth:
    """``1 + r`` on (sessions ``rows``) x ``symbols``, a missing return (or symbol) counting as 0,
    written a stretch of sessions at a time into the drift's matrix (C order whatever the frame's
    layout - a frame of several blocks gives a Fortran-ordered array: the drift walks rows, and
    each period's product must be the same BLAS call)."""

    def __init__(self, returns: pd.DataFrame, rows: slice | np.ndarray, symbols: pd.Index) -> None:
        self.cols = returns.columns.get_indexer(symbols)
        self.block = returns.to_numpy(dtype=float)[rows]
        cols = self.cols
        # The symbols are a run of adjacent columns (the usual case): a slice, no gather.
        self.adjacent = bool(len(cols) and cols[0] >= 0 and (np.diff(cols) == 1).all())

    def fill(self, lo: int, hi: int, out: np.ndarray, clean: bool = False) -> None:
        """Sessions ``lo..hi-1`` into ``out``; ``clean``: as ``1 + nan_to_num(r)`` (NaN counts as
        0, an infinite return as the largest float). Without it a non-finite value stays, for
        the drift to find (it stays non-finite to its period's end) and fill again cleaned."""
        cols = self.cols
        if self.adjacent:
            np.add(self.block[lo:hi, cols[0] : cols[-1] + 1], 1.0, out=out)
        elif len(cols):
            np.add(np.take(self.block[lo:hi], np.maximum(cols, 0), axis=1), 1.0, out=out)
            out[:, cols < 0] = 1.0
        if clean:
            bad = ~np.isfinite(out)
            out[bad] = np.nan_to_num(out[bad], nan=1.0)


def _drift(plan: _Plan) -> _Drift:
    """THE drift (see the module doc). ``G`` is accumulated in place, row by row within each
    period (the sequence of multiplications of a cumulative product: ``G_t = G_{t-1} * (1 +
    r_t)``), and each period's value is one matrix-vector product.

    Consecutive periods of one length (weekly rebalancing: the runs of five-session weeks
    between holidays) are one (periods x length x symbols) view of ``G``: the t-th rows of all
    of them are multiplied in one call, and their matrix-vector products are one stacked
    ``matmul`` (one BLAS call per period, as before: the same numbers, bit for bit)."""
    n = len(plan.sessions)
    pos = plan.rebalance_pos
    ends = pos if n == 0 or (len(pos) and pos[-1] == n - 1) else np.append(pos, n - 1).astype(pos.dtype)
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64) if len(ends) else np.empty(0, dtype=np.int64)
    width = len(plan.symbols)
    growth = np.empty((n, width))
    value = np.empty(n)
    lengths = ends - starts + 1
    # Runs of periods: the first (it holds the start weights), then each stretch of equal lengths.
    first = np.flatnonzero(np.diff(lengths[1:]) != 0) + 2
    bounds = [0, *([1] if len(ends) > 1 else []), *first.tolist(), len(ends)] if len(ends) else [0]
    multiply, matmul = np.multiply, np.matmul
    # Cleaning 1 + r (a mask pass over it) is paid only from the first run that needs it on:
    # data with one gap usually has more (a listing, a delisting, a halt), and drifting every
    # period twice costs more than cleaning the rest at once.
    clean = False
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        lo, size, count = int(starts[a]), int(lengths[a]), b - a
        held = plan.start_weights[None, :] if a == 0 else plan.new_weights[a - 1 : b - 1]
        rows = growth[lo : lo + count * size]
        periods = rows.reshape(count, size, width)
        for cleaned in (False, True) if not clean else (True,):
            # 1 + r of the run written just before it is drifted, while it is in the cache.
            plan.returns.fill(lo, lo + count * size, rows, clean=cleaned)
            for t in range(1, size):
                multiply(periods[:, t - 1], periods[:, t], periods[:, t])
            # A non-finite 1 + r (a missing return) leaves its period's last G non-finite: the
            # run again from 1 + r cleaned (a sum is finite iff every value is, or overflows).
            if cleaned or isfinite(periods[:, -1].sum()):
                break
            clean = True
        matmul(periods, held[:, :, None], out=value[lo : lo + count * size].reshape(count, size, 1))
    end_rows = growth[ends]
    value_end = value[ends][:, None]
    # held * G_end, without stacking the held weights: the gathered rows scaled in place.
    drifted = end_rows
    if len(ends):
        drifted[0] *= plan.start_weights
        drifted[1:] *= plan.new_weights[: len(ends) - 1]
    if (value_end > 0).all():
        drifted /= value_end
    else:
        # A period that lost everything keeps its weights (nothing to renormalise).
        with np.errstate(invalid="ignore", divide="ignore"):
            drifted = np.where(value_end > 0, drifted / value_end, plan.held(len(ends)))
    return _Drift(starts, ends, growth, value, drifted)


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
    drift = _drift(plan)
    # A session's opening weights: its period's held weights, drifted by the closes before it.
    rows = np.repeat(plan.held(len(drift.ends)), drift.ends - drift.starts + 1, axis=0)
    later = np.ones(len(plan.sessions), dtype=bool)
    later[drift.starts] = False
    t = np.flatnonzero(later)
    value = drift.value[t - 1, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        rows[t] = np.where(value > 0, rows[t] * drift.growth[t - 1] / value, rows[t])
    k = len(plan.rebalance_pos)
    if len(drift.ends) == 0:
        h = plan.start_weights
    else:
        h = plan.new_weights[-1] if k == len(drift.ends) else drift.drifted[-1]
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
