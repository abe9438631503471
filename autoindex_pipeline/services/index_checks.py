"""Checks on the stored allocations and index values of every strategy's current version,
run after each index update: weights sum to 1, no negative weight, cap respected, benchmark
never a constituent; the stored index recomputed from stored allocations and prices within
1e-9 (both published series: the total return ``level`` and the price return ``price_level``,
labelled ``<strategy> (price return)``); no session missing; daily moves beyond the drop
threshold reported."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pandas as pd

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain import quality
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.domain.index import compute_index
from autoindex_pipeline.services.returns import read_clean_returns
from autoindex_pipeline.warehouse.strategy import read_current_rows

if TYPE_CHECKING:
    import sqlalchemy as sa

ALLOCATION_CHECKS = ("weights_sum", "no_negative_weights", "weight_cap", "benchmark_excluded")
INDEX_CHECKS = ("index_recomputation", "index_session_gaps", "daily_moves")


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


def evaluate_index(
    engine: sa.Engine, config: AutoIndexConfig, new_from: dict[str, pd.Timestamp | None] | None = None
) -> dict[str, quality.CheckOutcome]:
    """Every allocation and index check on each strategy's current rows. ``new_from``: strategy
    -> the first session this update appended (None: nothing new). ``daily_moves`` judges only
    those sessions, so a drop is reported by the run that published it, once, not again by every
    later run; without ``new_from`` it judges the whole history."""
    benchmark = config.universe.benchmark
    versions = {name: strat.version for name, strat in config.strategies.items()}
    allocations = read_current_rows(engine, "allocations", versions)
    index = read_current_rows(engine, "index_values", versions)
    if allocations.empty or index.empty:
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
    sessions = sessions_between(first - pd.Timedelta(days=10), last, config.prices.calendar)
    # Strategies that clean prices alike share one read of the closes.
    returns_by_cleaning: dict[tuple[int, float, float], tuple[pd.DataFrame, pd.DataFrame]] = {}
    stored_levels = []
    for name, strat in config.strategies.items():
        stored = index[index["strategy"] == name]
        if stored.empty:
            continue
        cleaning = (strat.max_forward_fill_days, strat.min_daily_return, strat.max_daily_return)
        if cleaning not in returns_by_cleaning:
            read = read_clean_returns(engine, config.symbols, sessions, *cleaning)
            returns_by_cleaning[cleaning] = (read.returns, read.price_returns)
        returns, price_returns = returns_by_cleaning[cleaning]
        targets = allocations[allocations["strategy"] == name]
        daily, _ = compute_index(returns, targets, stored["date"].min(), strat.transaction_cost_bps, end=stored["date"].max())
        recomputed.append(daily.assign(strategy=name))
        stored_levels.append(stored.loc[:, ["date", "level", "strategy"]])
        # Rows written before the price-return series existed have no price level to check.
        priced = stored[stored["price_level"].notna()]
        if len(priced):
            label = f"{name} (price return)"
            price_daily, _ = compute_index(
                price_returns, targets, stored["date"].min(), strat.transaction_cost_bps, end=stored["date"].max()
            )
            recomputed.append(price_daily[price_daily["date"].isin(priced["date"])].assign(strategy=label))
            stored_levels.append(priced.loc[:, ["date", "price_level"]].rename(columns={"price_level": "level"}).assign(strategy=label))
        judged = stored
        if new_from is not None:
            since = new_from.get(name)
            judged = stored.iloc[0:0] if since is None else stored[stored["date"] >= pd.Timestamp(since)]
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
