"""Checks on the stored allocations and index values of every strategy's current version,
run after each index update: weights sum to 1, no negative weight, cap respected, benchmark
never a constituent; the stored index recomputed from stored allocations and prices within
1e-9 (both published series: the total return ``level`` and the price return ``price_level``,
labelled ``<strategy> (price return)``); no session missing; daily moves beyond the drop
threshold reported.

The recomputation is incremental like the index itself: after an update that appended sessions
from F, it restarts at the last rebalance R before F from what is stored there (the level after
R's close and R's target weights, the holdings the index carries out of R: the same floats a
full recomputation reaches at R) and compares every stored level after R; the allocation checks
judge the allocations from R on. Each daily run thus reads and recomputes about one rebalance period, whatever the history's length; the history
before R was verified by the runs that appended it. The whole history is recomputed from the
base date when the update itself recomputed it (``new_from`` at or before the first rebalance
after the base date, or None) and on demand (``full_recomputation``: the ``index_values`` run tag
``autoindex/index_check: full``, see docs/data-quality.md).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pandas as pd

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain import quality
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.domain.index import IndexState, compute_index
from autoindex_pipeline.services.returns import read_clean_returns
from autoindex_pipeline.warehouse.strategy import read_current_rows

if TYPE_CHECKING:
    import sqlalchemy as sa

ALLOCATION_CHECKS = ("weights_sum", "no_negative_weights", "weight_cap", "benchmark_excluded")
INDEX_CHECKS = ("index_recomputation", "index_session_gaps", "daily_moves")
# The run tag that asks index_values' checks for a recomputation of the whole history.
FULL_CHECK_TAG = "autoindex/index_check"
FULL_CHECK_VALUE = "full"


def _merge(name: str, outcomes: list[quality.CheckOutcome]) -> quality.CheckOutcome:
    """One outcome from the per-strategy ones (their offending rows carry the strategy)."""
    first = outcomes[0]
    offending = pd.concat([o.offending for o in outcomes], ignore_index=True)
    return replace(
        first,
        name=name,
        passed=all(o.passed for o in outcomes),
        offending=offending,
        observed=max((o.observed for o in outcomes), default=first.observed),
        evaluated=sum(o.evaluated for o in outcomes),
    )


def _restart_date(stored: pd.DataFrame, since: pd.Timestamp | None) -> pd.Timestamp | None:
    """The last rebalance before ``since`` (the first appended session), after the base date;
    None: recompute from the base date (nothing appended, or no such rebalance)."""
    if since is None:
        return None
    base = stored["date"].min()
    rebalances = stored.loc[stored["is_rebalance"].astype(bool) & (stored["date"] < since) & (stored["date"] > base), "date"]
    return None if rebalances.empty else rebalances.max()


def _restart(stored: pd.DataFrame, targets: pd.DataFrame, date: pd.Timestamp | None, column: str) -> IndexState | None:
    """The state the recomputation restarts from: after the close of the rebalance ``date``
    (:func:`_restart_date`), from the stored ``column`` level there and that rebalance's
    targets. None: recompute from the base date."""
    if date is None:
        return None
    level = stored.loc[stored["date"] == date, column].iloc[0]
    held = targets[targets["date"] == date]
    if level != level or held.empty:
        return None
    holdings = pd.Series(held["weight"].to_numpy(dtype=float), index=pd.Index(held["symbol"].to_numpy(dtype=object)))
    return IndexState(date=date, level=float(level), holdings=holdings)


def evaluate_index(
    engine: sa.Engine, config: AutoIndexConfig, new_from: dict[str, pd.Timestamp | None] | None = None,
    as_of: pd.Timestamp | None = None, full_recomputation: bool = False,
) -> dict[str, quality.CheckOutcome]:
    """Every allocation and index check on each strategy's current rows. ``new_from``: strategy
    -> the first session this update appended (None: nothing new). ``daily_moves`` judges only
    those sessions, so a drop is reported by the run that published it, once, not again by every
    later run; without ``new_from`` it judges the whole history. The recomputation covers the
    sessions after the last rebalance before the first appended one (see the module doc), the
    whole history without ``new_from``, for a strategy not in it, or with ``full_recomputation``;
    the allocation checks judge the allocations the recomputation reads (from that rebalance on:
    the rows this update wrote and the one it drifts from; every row when it recomputes the whole
    history), so a daily run reads about one rebalance period of allocations, not the history.
    ``as_of``: the rows were computed from the data as known then (an as-of run); the
    recomputation reads the same."""
    benchmark = config.universe.benchmark
    versions = {name: strat.version for name, strat in config.strategies.items()}
    index = read_current_rows(engine, "index_values", versions)
    if index.empty:
        return {}
    restart_dates: dict[str, pd.Timestamp] = {}
    for name in config.strategies:
        stored = index[index["strategy"] == name]
        if stored.empty or new_from is None or full_recomputation or name not in new_from:
            continue
        # Nothing appended: the newest rebalance period is recomputed, the rest is as checked.
        since = pd.Timestamp(new_from[name]) if new_from[name] is not None else stored["date"].max() + pd.Timedelta(days=1)
        date = _restart_date(stored, since)
        if date is not None:
            restart_dates[name] = date
    allocations = read_current_rows(engine, "allocations", versions, since=restart_dates)

    plans = []
    for name, strat in config.strategies.items():
        stored = index[index["strategy"] == name]
        if stored.empty:
            continue
        targets = allocations[allocations["strategy"] == name]
        date = restart_dates.get(name)
        restart = _restart(stored, targets, date, "level")
        price_restart = None if restart is None else _restart(stored, targets, date, "price_level")
        if restart is not None and price_restart is None and stored.loc[stored["date"] > restart.date, "price_level"].notna().any():
            restart = None  # the price-return series has nothing stored to restart from
        plans.append([name, strat, stored, targets, restart, price_restart])
    # A strategy whose recomputation cannot restart after all recomputes (and is judged) in full.
    in_full = [plan[0] for plan in plans if plan[4] is None and plan[0] in restart_dates]
    if in_full:
        for name in in_full:
            restart_dates.pop(name)
        allocations = read_current_rows(engine, "allocations", versions, since=restart_dates)
        for plan in plans:
            plan[3] = allocations[allocations["strategy"] == plan[0]]
    if allocations.empty:
        return {}
    out = {
        "weights_sum": quality.check_weights_sum(allocations),
        "no_negative_weights": quality.check_no_negative_weights(allocations),
        "benchmark_excluded": quality.check_benchmark_excluded(allocations, benchmark),
    }
    caps = [
        quality.check_weight_cap(allocations[allocations["strategy"] == name], strat.max_asset_weight)
        for name, strat in config.strategies.items()
    ]
    out["weight_cap"] = _merge("weight_cap", caps)

    recomputed, moves = [], []
    first, last = index["date"].min(), index["date"].max()
    # Strategies that clean prices alike share one read of the closes, over the longest window
    # any of them needs.
    windows: dict[tuple[int, float, float], pd.Timestamp] = {}
    for _, strat, stored, _, restart, _ in plans:
        cleaning = (strat.max_forward_fill_days, strat.min_daily_return, strat.max_daily_return)
        # The forward fill reaches back max_forward_fill_days sessions: read that much before
        # the restart (twice, in calendar days, with the 10 days the full read always had).
        start = stored["date"].min() if restart is None else restart.date
        start = start - pd.Timedelta(days=10 + 2 * strat.max_forward_fill_days)
        windows[cleaning] = min(start, windows.get(cleaning, start))
    returns_by_cleaning: dict[tuple[int, float, float], tuple[pd.DataFrame, pd.DataFrame]] = {}
    for cleaning, start in windows.items():
        sessions = sessions_between(start, last, config.prices.calendar)
        read = read_clean_returns(engine, config.symbols, sessions, *cleaning, as_of=as_of)
        returns_by_cleaning[cleaning] = (read.returns, read.price_returns)
    stored_levels = []
    for name, strat, stored, targets, restart, price_restart in plans:
        returns, price_returns = returns_by_cleaning[(strat.max_forward_fill_days, strat.min_daily_return,
                                                      strat.max_daily_return)]
        base, end = stored["date"].min(), stored["date"].max()
        checked = stored if restart is None else stored[stored["date"] > restart.date]
        daily, _ = compute_index(returns, targets, base, strat.transaction_cost_bps, state=restart, end=end)
        recomputed.append(daily.assign(strategy=name))
        stored_levels.append(checked.loc[:, ["date", "level", "strategy"]])
        # Rows written before the price-return series existed have no price level to check.
        priced = checked[checked["price_level"].notna()]
        if len(priced):
            label = f"{name} (price return)"
            price_daily, _ = compute_index(price_returns, targets, base, strat.transaction_cost_bps,
                                           state=price_restart, end=end)
            recomputed.append(price_daily[price_daily["date"].isin(priced["date"])].assign(strategy=label))
            stored_levels.append(priced.loc[:, ["date", "price_level"]].rename(columns={"price_level": "level"}).assign(strategy=label))
        judged = stored
        if new_from is not None:
            since_moves = new_from.get(name)
            judged = stored.iloc[0:0] if since_moves is None else stored[stored["date"] >= pd.Timestamp(since_moves)]
        moves.append(quality.check_daily_moves(judged.loc[:, ["date", "daily_return", "strategy"]], strat.daily_drop_threshold))
    out["index_recomputation"] = quality.check_index_recomputation(
        pd.concat(stored_levels, ignore_index=True),
        pd.concat(recomputed, ignore_index=True).loc[:, ["date", "level", "strategy"]],
    )
    out["index_session_gaps"] = quality.check_index_session_gaps(
        index.loc[:, ["date", "strategy"]], sessions_between(first, last, config.prices.calendar)
    )
    out["daily_moves"] = _merge("daily_moves", moves)
    return out
