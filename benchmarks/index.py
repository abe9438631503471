"""Index engine vs bt on the same target weights: speed and agreement.

Ten years of XNYS sessions x 500 synthetic assets (clean geometric random walks, no gaps),
weekly rebalancing with the default strategy. Both engines get the same target weights; the
script prints both run times, the plain numpy drift loop's (goals.py) with its input
preparation apart, the speed ratio (target: >= 200x), the largest level difference
(target: <= 1e-9) and the time of one daily incremental step from a stored state (target:
< 0.1 s). Needs the dev extra (bt).

It also prices the corporate actions (methodology section 2a): the same series as raw closes with
events (a split for 2% of the assets a year, quarterly dividends for half of them), the cost of
the adjustment against section 2's cleaning alone, of the adjustment with no event (the path
every user of adjusted closes takes), and of the second (price-return) index; and checks that the
raw closes + events give the total-return index of the adjusted closes.

    python benchmarks/index.py [--assets 500] [--years 10] [--seed 7]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from autoindex_pipeline.config import StrategyConfig
from autoindex_pipeline.domain import cleaning, index, metrics, strategy
from autoindex_pipeline.domain import corporate_actions as ca
from autoindex_pipeline.domain.calendar import sessions_between


def synthetic_prices(sessions: pd.DatetimeIndex, n_assets: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    drift = rng.normal(0.0003, 0.0003, n_assets)
    vol = rng.uniform(0.008, 0.03, n_assets)
    shocks = rng.standard_normal((len(sessions), n_assets)) * vol + drift
    start = rng.uniform(10, 300, n_assets)
    symbols = [f"S{i:03d}" for i in range(n_assets)] + ["SPY"]
    spy = 200 * np.cumprod(1 + rng.normal(0.0004, 0.011, len(sessions)))
    values = np.column_stack([start * np.cumprod(1 + shocks, axis=0), spy])
    return pd.DataFrame(values, index=sessions, columns=symbols)


def with_events(closes: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``closes`` read as total-return closes, turned into raw closes and the events that
    explain them: ``C[t] = C[t-1] (1 + g[t]) - D[t] F[t]``, ``P = C / F`` (so ``r_TR`` = the
    closes' own returns)."""
    rng = np.random.default_rng(seed)
    sessions, symbols = closes.index, list(closes.columns)
    years = max(len(sessions) // 252, 1)
    rows = []
    for j, symbol in enumerate(symbols[:-1]):  # not the benchmark
        for t in rng.choice(np.arange(20, len(sessions)), size=rng.binomial(years, 0.02), replace=False):
            rows.append((symbol, sessions[t], "split", float(rng.choice([2.0, 3.0, 4.0, 0.1])), np.nan))
        if j % 2 == 0:
            rows += [(symbol, sessions[t], "dividend", np.nan, 0.0) for t in range(30 + j % 60, len(sessions), 63)]
    events = ca.normalise_events(pd.DataFrame(rows, columns=["symbol", "ex_date", "kind", "ratio", "amount"]).assign(source="bench"))
    factors = ca.split_factors(events, sessions, symbols).to_numpy()
    growth = closes.pct_change().fillna(0.0).to_numpy()
    paying = np.zeros(closes.shape, dtype=bool)
    divs = events[events["kind"] == "dividend"]
    paying[sessions.get_indexer(divs["ex_date"]), pd.Index(symbols).get_indexer(divs["symbol"])] = True
    c = np.empty(closes.shape)
    c[0] = closes.iloc[0].to_numpy()
    paid = np.zeros(closes.shape)
    for t in range(1, len(sessions)):
        paid[t] = np.where(paying[t], 0.004 * c[t - 1], 0.0)
        c[t] = c[t - 1] * (1 + growth[t]) - paid[t]
    amounts = paid / factors
    events.loc[events["kind"] == "dividend", "amount"] = amounts[
        sessions.get_indexer(divs["ex_date"]), pd.Index(symbols).get_indexer(divs["symbol"])]
    return pd.DataFrame(c / factors, index=sessions, columns=symbols), events


def drift_loop_inputs(targets: pd.DataFrame, returns: pd.DataFrame, d0: pd.Timestamp) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """The plain loop's inputs: the returns from ``d0`` as an array (NaN as 0) and each
    rebalance's target weights by row position."""
    wide = targets.pivot(index="date", columns="symbol", values="weight").reindex(columns=returns.columns).fillna(0.0)
    held = returns.loc[d0:]
    return held.fillna(0.0).to_numpy(), {held.index.get_loc(d): wide.loc[d].to_numpy() for d in wide.index if d >= d0}


def plain_drift_loop(r: np.ndarray, on: dict[int, np.ndarray], cost: float = 0.0) -> np.ndarray:
    """The index as the simplest numpy loop computes it: weights drift with the day's returns
    and are reset to the targets on a rebalance, ``cost`` (a fraction) charged on the turnover."""
    levels = np.empty(len(r))
    level, w = index.BASE_LEVEL, on[0].copy()
    levels[0] = level
    for t in range(1, len(r)):
        grown = w * (1.0 + r[t])
        gross = grown.sum()
        level *= gross
        w = grown / gross
        target = on.get(t)
        if target is not None:
            if cost:
                level *= 1.0 - cost * np.abs(target - w).sum()
            w = target
        levels[t] = level
    return levels


def timed(fn, repeat: int = 1):
    best, result = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import bt  # dev extra only

    sessions = sessions_between("2014-01-02", pd.Timestamp("2014-01-02") + pd.DateOffset(years=args.years) - pd.Timedelta(days=1))
    closes = synthetic_prices(sessions, args.assets, args.seed)
    symbols = list(closes.columns)
    config = StrategyConfig(rebalance_frequency="weekly", start_date=sessions[0].date())
    rng = np.random.default_rng(args.seed + 1)
    known = rng.uniform(1e7, 1e9, len(symbols))
    shares_long = pd.DataFrame({"symbol": symbols, "date": sessions[0], "shares_outstanding": known})

    clean = cleaning.clean_closes(closes, config.max_forward_fill_days)
    returns = cleaning.daily_returns(clean, config.min_daily_return, config.max_daily_return)
    shares = strategy.shares_as_of(shares_long, sessions, symbols)
    dates = strategy.rebalance_dates(sessions, config.rebalance_frequency, config.start_date)
    t_targets, targets = timed(lambda: strategy.target_weights(clean, returns, shares, config, dates), repeat=3)
    d0 = strategy.base_date(targets, dates, config.start_date)

    t_engine, (daily, _) = timed(lambda: index.compute_index(returns, targets, d0), repeat=5)

    # The plain numpy drift loop goals.py compares with, on the same targets: the engine's time
    # includes turning the long targets and the returns frame into arrays; the loop's
    # preparation is timed apart.
    t_prep, (r, on) = timed(lambda: drift_loop_inputs(targets, returns, d0), repeat=3)
    t_loop, loop_levels = timed(lambda: plain_drift_loop(r, on), repeat=5)
    loop_gap = float(np.max(np.abs(loop_levels - daily["level"].to_numpy())))

    weights = targets.pivot(index="date", columns="symbol", values="weight").fillna(0.0)
    constituents = closes.drop(columns="SPY")

    def run_bt() -> pd.Series:
        algo = bt.Strategy(
            "autoindex", [bt.algos.RunOnDate(*weights.index), bt.algos.WeighTarget(weights), bt.algos.Rebalance()]
        )
        test = bt.Backtest(algo, constituents, integer_positions=False, initial_capital=1e6, progress_bar=False)
        return bt.run(test)["autoindex"].prices

    t_bt, bt_prices = timed(run_bt)
    bt_levels = (bt_prices.loc[d0:] / bt_prices.loc[d0] * index.BASE_LEVEL).reindex(daily["date"])
    max_abs = float(np.max(np.abs(bt_levels.to_numpy() - daily["level"].to_numpy())))

    # One daily step: the stored state after the second-to-last session, one new session.
    _, state = index.compute_index(returns, targets, d0, end=sessions[-2])
    stored = index.IndexState.from_dict(state.to_dict())
    t_step, (step, _) = timed(lambda: index.compute_index(returns, targets, d0, state=stored), repeat=20)
    step_diff = abs(step["level"].iloc[-1] - daily["level"].iloc[-1])
    last = sessions[-1:]
    t_target_step, _ = timed(lambda: strategy.target_weights(clean, returns, shares, config, last), repeat=5)
    bench = index.benchmark_levels(returns["SPY"], d0)
    t_metrics, _ = timed(lambda: metrics.metrics_as_of_each_date(daily, bench, config.risk_free_rate), repeat=5)

    print(f"data: {len(sessions)} sessions x {args.assets} assets, {len(dates)} weekly rebalances, base date {d0.date()}")
    print(f"target weights (all rebalance dates): {t_targets * 1e3:9.1f} ms")
    print(f"index engine (full history):          {t_engine * 1e3:9.1f} ms")
    print(f"plain numpy drift loop (no cost):     {t_loop * 1e3:9.1f} ms  (engine / loop {t_engine / t_loop:.2f}x; "
          f"its input preparation {t_prep * 1e3:.1f} ms; levels within {loop_gap:.1e})")
    print(f"bt backtest (same targets):           {t_bt * 1e3:9.1f} ms")
    print(f"speed ratio bt / engine:              {t_bt / t_engine:9.0f} x   (target >= 200x)")
    print(f"max |level engine - level bt|:        {max_abs:9.2e}      (target <= 1e-9)")
    print(f"daily incremental index step:         {t_step * 1e3:9.2f} ms  (target < 100 ms; "
          f"differs from the full run by {step_diff:.1e})")
    print(f"target weights for one new date:      {t_target_step * 1e3:9.2f} ms")
    print(f"metrics as of every date (full):      {t_metrics * 1e3:9.2f} ms")

    # Corporate actions: the same series as raw closes + events.
    raw, events = with_events(closes, args.seed + 2)
    ff, lo, hi = config.max_forward_fill_days, config.min_daily_return, config.max_daily_return
    t_plain, _ = timed(lambda: cleaning.daily_returns(cleaning.clean_closes(closes, ff), lo, hi), repeat=5)
    t_none, _ = timed(lambda: ca.adjust(closes, ca.empty_events(), ff, lo, hi), repeat=5)
    t_adjust, adjusted = timed(lambda: ca.adjust(raw, events, ff, lo, hi), repeat=5)
    # The equivalence holds when the price screen is off: it reads the raw close by design, and
    # raw closes after a reverse split or before a forward one are not the adjusted ones.
    unscreened = StrategyConfig(rebalance_frequency="weekly", start_date=sessions[0].date(), min_price_threshold=0.0)
    targets_ca = strategy.target_weights(adjusted.screen_closes, adjusted.total_returns, None, unscreened, dates)
    targets_plain = strategy.target_weights(clean, returns, None, unscreened, dates)
    d0_ca = strategy.base_date(targets_ca, dates, config.start_date)
    total_ca, _ = index.compute_index(adjusted.total_returns, targets_ca, d0_ca)
    total_plain, _ = index.compute_index(returns, targets_plain, strategy.base_date(targets_plain, dates, config.start_date))
    t_price_index, _ = timed(lambda: index.compute_index(adjusted.price_returns, targets_ca, d0_ca), repeat=5)
    equivalence = float(np.max(np.abs(total_ca["level"].to_numpy() / total_plain["level"].to_numpy() - 1)))
    kinds = events["kind"].value_counts()
    print(f"corporate actions: {kinds.get('split', 0)} splits, {kinds.get('dividend', 0)} dividends")
    print(f"cleaning + returns, no adjustment:    {t_plain * 1e3:9.1f} ms")
    print(f"adjust() with no event:               {t_none * 1e3:9.1f} ms")
    print(f"adjust() with the events (F, C, r_PR, r_TR): {t_adjust * 1e3:6.1f} ms  (+{(t_adjust - t_plain) * 1e3:.1f} ms)")
    print(f"price-return index (second series):   {t_price_index * 1e3:9.1f} ms")
    print(f"raw + events vs adjusted closes, total-return index (no price screen): max relative difference {equivalence:.1e}")


if __name__ == "__main__":
    main()
