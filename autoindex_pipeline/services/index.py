"""Build and extend a strategy's allocations, index values and risk metrics from the warehouse.

The glue between the warehouse and the pure methodology code (``domain``): read what a
computation needs, call the domain functions, write the results in ONE transaction. No Dagster
here; the assets and the CLI both call :func:`update_strategy`.

Four modes, chosen from the stored state of (strategy, config version):

* **full**: no state yet, or an input recorded after the last computation is dated on or before
  the last computed session (a backfill or correction of an old partition, a withdrawn price, a
  shares figure, an override set or removed, a late event, late sentiment of a tilted strategy:
  ``warehouse.index_restart.input_changes``) and no stored rebalance after the base date
  precedes the change. Everything from the base date is
  recomputed from stored prices and replaces the version's rows.
* **restart**: the same change, with a stored rebalance before it (``services/index_restart.py``):
  an incremental update from the state after that rebalance, replacing the rows after it.
* **incremental**: new sessions only. Prices are read for the lookback window before the first
  new session (``strategy.lookback_sessions``: trimmed history gives identical targets), the
  index continues from the stored level and holdings, metrics extend the stored series.
* **up to date**: no new session and no input recorded since the last computation dated inside
  its history; nothing is written.

Corporate actions (section 2a): each strategy publishes two levels from the same targets, the
total return (``level``, the headline; holdings drift with ``r_TR``) and the price return
(``price_level``; holdings drift with ``r_PR``), each with its own turnover, cost, benchmark and
metrics. An event recorded after the last computation (a split or dividend learnt late) dirties
the history from its ex-date like a price backfill. The stored watermark is the newest moment
any input the change check counts was recorded when the computation read them (the same list
of inputs answers "changed?" and "from when?", so the two cannot disagree).

**As of a moment** (``update_strategy(..., as_of=T)``, ``autoindex run --as-of T``): a full
recompute from the data as known at T, published like any other (index rows carry
``data_as_of``; the rows it replaces are archived in ``index_value_revisions``).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain import corporate_actions as ca
from autoindex_pipeline.domain import metrics, strategy
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.domain.index import IndexState, benchmark_levels, compute_index
from autoindex_pipeline.domain.params import StrategyParams
from autoindex_pipeline.domain.sleeves import SLEEVES, sleeve_rows
from autoindex_pipeline.services.gate import session_gate
from autoindex_pipeline.services.index_restart import restart_point
from autoindex_pipeline.services.returns import read_clean_returns
from autoindex_pipeline.warehouse.index_restart import input_changes
from autoindex_pipeline.warehouse.read import read_shares
from autoindex_pipeline.warehouse.revisions import newest_session_as_of, utc_moment
from autoindex_pipeline.warehouse.strategy import (
    read_index_base_date,
    read_index_history,
    read_strategy_status,
    record_strategy_versions,
    write_strategy_update,
)

if TYPE_CHECKING:
    import sqlalchemy as sa

# `allocations` keeps a contribution column for each sleeve it had when it was created (only
# those are written there); every sleeve's contribution, weight and signal is in
# `allocation_sleeves`.
ALLOCATION_COLUMNS = ("date", "symbol", "weight", *(s.contribution_column for s in SLEEVES.values()))


@dataclass
class UpdateReport:
    strategy: str
    version: str
    mode: str
    first_new_date: pd.Timestamp | None = None
    last_date: pd.Timestamp | None = None
    base_date: pd.Timestamp | None = None
    allocation_rows: int = 0
    index_rows: int = 0
    metric_rows: int = 0
    final_level: float | None = None
    notes: list[str] = field(default_factory=list)
    held_from: pd.Timestamp | None = None
    """First session the index waits for (complete sessions only), None when it is not held."""
    held_reason: str | None = None
    held_symbols: list[str] = field(default_factory=list)
    """The constituents whose close the first held session lacks."""


def sync_strategy_configs(engine: sa.Engine, config: AutoIndexConfig) -> pd.DataFrame:
    """Record every configured strategy under its content-hash version. A changed config adds a
    version (the old one's rows stay, flagged not current); nothing is rewritten."""
    versions = {name: (strat.version, strat.canonical_json()) for name, strat in config.strategies.items()}
    return record_strategy_versions(engine, versions)


def _inputs(engine: sa.Engine, config: AutoIndexConfig, strat: StrategyParams, first: pd.Timestamp, last: pd.Timestamp,
            as_of: dt.datetime | None = None):
    """Cleaned closes and returns on the calendar sessions [first - lookback, last], and the
    point-in-time shares on the same sessions (adjusted by the splits since each figure was
    reported, so shares x raw close is continuous across a split); every input as known at
    ``as_of`` (None: now)."""
    calendar = config.prices.calendar
    lookback = strategy.lookback_sessions(strat)
    history = sessions_between(pd.Timestamp(config.prices.start_date) - pd.Timedelta(days=7), first, calendar)
    read_from = history[max(len(history) - 1 - lookback, 0)] if len(history) else first
    sessions = sessions_between(read_from, last, calendar)
    symbols = config.symbols
    prices = read_clean_returns(
        engine, symbols, sessions, strat.max_forward_fill_days, strat.min_daily_return, strat.max_daily_return, as_of=as_of,
        from_first_close=True,
    )
    # Rebalance dates depend on the calendar alone and no signal sees an all-NaN row: the sessions
    # before the first stored close are dropped with the frames' rows (memory, not results).
    if len(prices.raw.index):
        sessions = sessions[sessions >= prices.raw.index[0]]
    shares = strategy.shares_as_of(
        ca.adjust_shares(read_shares(engine, symbols=symbols, end=sessions[-1], as_of=as_of), prices.events), sessions, symbols
    )
    if (prices.events["kind"] == ca.SPLIT).any():
        shares = shares * prices.factors.reindex(index=shares.index, columns=shares.columns)
    sentiment = None
    if strat.sentiment_tilt != 0:
        from autoindex_pipeline.warehouse.news import read_sentiment_daily

        daily = read_sentiment_daily(
            engine, sessions[0] - pd.Timedelta(days=strat.sentiment_window_days), sessions[-1], symbols, as_of=as_of
        )
        sentiment = strategy.sentiment_z(daily, sessions, strat.sentiment_window_days, symbols)
    return sessions, prices, shares, sentiment


def _cap(frame: pd.DataFrame | None, last: pd.Timestamp) -> pd.DataFrame | None:
    return None if frame is None else frame.loc[frame.index <= last]


def _watermark(*moments: dt.datetime | None) -> dt.datetime | None:
    """The newest of ``moments`` (SQLite hands back naive datetimes; they were written as UTC)."""
    known = [m if m.tzinfo is not None else m.replace(tzinfo=dt.UTC) for m in moments if m is not None]
    return max(known) if known else None


def _state(state_row: dict, prefix: str = "") -> IndexState:
    holdings = state_row[f"{prefix}holdings"]
    return IndexState.from_dict({"date": state_row["date"], "level": state_row[f"{prefix}level"], "holdings": json.loads(holdings)})


def update_strategy(engine: sa.Engine, config: AutoIndexConfig, name: str, as_of: dt.datetime | None = None) -> UpdateReport:
    """Bring (strategy ``name``, its current config version) up to the newest stored session.

    ``as_of``: recompute everything from the base date from the data as the warehouse knew it at
    that moment (prices by revision, events by first_seen, shares and sentiment by when they were
    stored, overrides by when they were created) and publish it; its rows say
    ``data_as_of = as_of``, and the stored watermark is ``as_of``, so the next ordinary update sees
    everything recorded since as a change and recomputes from the current data."""
    strat = config.strategies[name]
    version = strat.version
    benchmark = config.universe.benchmark
    status = read_strategy_status(engine, name, version)
    state_row, last = status.state, status.last_price_session
    if as_of is not None:
        as_of = utc_moment(as_of)
        last = newest_session_as_of(engine, as_of)
    report = UpdateReport(name, version, mode="up to date")
    if last is None:
        report.notes.append("no prices stored yet" if as_of is None else f"no prices recorded by {as_of.isoformat()}")
        return report

    state_date = pd.Timestamp(state_row["date"]) if state_row else None
    seen = _watermark(state_row["prices_watermark"]) if state_row is not None else None
    # One list of inputs answers both "did anything change since the stored watermark" and "from
    # which date" (warehouse/index_restart.py): prices, revisions incl. withdrawals, shares,
    # overrides set or removed, corporate actions and, for a tilted strategy, sentiment (news
    # scored late for past days moves its past rebalances). Its newest moment is the next watermark.
    changes = input_changes(engine, seen, with_sentiment=strat.sentiment_tilt != 0)
    dirty_from = changes.changed_from
    # A state written before the price-return series existed cannot be extended: recompute.
    no_price_state = state_row is not None and state_row.get("price_holdings") is None
    full = as_of is not None or state_row is None or no_price_state or (dirty_from is not None and dirty_from <= state_date)
    # Inputs changed inside the history: continue from the last stored rebalance before the
    # change when there is one (services/index_restart.py), as an incremental update from there.
    restart = None
    if full and as_of is None and state_row is not None and not no_price_state:
        restart = restart_point(engine, config, name, version, dirty_from, last)
    if restart is not None:
        state_row, state_date, full = restart.state, restart.date, False
    if not full and state_date >= last:
        report.last_date = state_date
        return report

    start = pd.Timestamp(strat.start_date or config.prices.start_date)
    first_needed = start if full else state_date
    sessions, prices, shares, sentiment = _inputs(engine, config, strat, first_needed, last, as_of)
    raw, clean, returns, price_returns = prices.raw, prices.screen_closes, prices.returns, prices.price_returns
    # Complete sessions only: the index goes no further than the last session on which every
    # constituent has a close or a known reason (services/gate.py); it resumes by itself.
    judged_from = first_needed if full else sessions[sessions > state_date][0]
    verdict = session_gate(engine, config.symbols, raw, judged_from, config.prices.hold_incomplete_sessions)
    if verdict.holds:
        report.held_from, report.held_reason = verdict.held[0], verdict.describe()
        report.held_symbols = verdict.first_held_symbols
        report.notes.append(f"held: {report.held_reason}")
        cap = verdict.last_complete
        if cap is None or (not full and cap <= state_date):
            report.mode = "held"
            report.last_date = state_date
            return report
        sessions = sessions[sessions <= cap]
        clean, returns, price_returns, shares, sentiment = (
            _cap(f, cap) for f in (clean, returns, price_returns, shares, sentiment)
        )
    elif len(verdict.missing):
        report.notes.append(
            f"{len(verdict.missing)} close(s) missing before the newest sessions, published with the forward fill "
            f"(first: {verdict.missing.iloc[0]['symbol']} {verdict.missing.iloc[0]['date'].date()})"
        )
    candidate_dates = strategy.rebalance_dates(sessions, strat.rebalance_frequency, start, config.prices.calendar)
    if full:
        if as_of is not None:
            report.mode = f"full (data as of {as_of.isoformat()})"
        elif state_row is None:
            report.mode = "full"
        elif dirty_from is not None and dirty_from <= state_date:
            report.mode = f"full (inputs changed from {dirty_from.date()})"
        else:
            report.mode = "full (no stored price-return state)"
        targets = strategy.target_weights(clean, returns, shares, strat, candidate_dates, sentiment, benchmark=benchmark)
        try:
            d0 = strategy.base_date(targets, candidate_dates, start)
        except strategy.NoEligibleAssetsError as exc:
            # Not an error of the pipeline: too little history yet. Say so, write nothing.
            report.mode = "no eligible asset"
            report.notes.append(str(exc))
            return report
        daily, final_state = compute_index(returns, targets, d0, strat.transaction_cost_bps)
        price_daily, price_state = compute_index(price_returns, targets, d0, strat.transaction_cost_bps)
        bench = benchmark_levels(returns[benchmark], d0) if benchmark in returns else None
        price_bench = benchmark_levels(price_returns[benchmark], d0) if benchmark in price_returns else None
        history = None
    else:
        report.mode = "incremental" if restart is None else restart.mode
        new_dates = candidate_dates[candidate_dates > state_date]
        targets = strategy.target_weights(clean, returns, shares, strat, new_dates, sentiment, benchmark=benchmark)
        d0 = None
        stored_d0 = read_index_base_date(engine, name, version)
        daily, final_state = compute_index(returns, targets, stored_d0, strat.transaction_cost_bps, state=_state(state_row))
        price_daily, price_state = compute_index(
            price_returns, targets, stored_d0, strat.transaction_cost_bps, state=_state(state_row, "price_")
        )
        bench, price_bench = (
            benchmark_levels(frame[benchmark], state_date, level_at_base=state_row[level], include_base=False)
            if benchmark in frame and state_row[level] is not None
            else None
            for frame, level in ((returns, "benchmark_level"), (price_returns, "price_benchmark_level"))
        )
        history = read_index_history(engine, name, version)
        history = history[history["date"] <= state_date]  # a restart replaces the rows after it

    index_rows = _index_rows(daily, bench).merge(
        _index_rows(price_daily, price_bench).drop(columns="is_rebalance").add_prefix("price_").rename(columns={"price_date": "date"}),
        on="date", how="left", validate="one_to_one",
    )
    all_index = pd.concat([history, index_rows], ignore_index=True) if history is not None else index_rows
    risk = _metrics(all_index, strat.risk_free_rate).merge(
        _metrics(all_index, strat.risk_free_rate, "price_").drop(columns="n_returns").add_prefix("price_")
        .rename(columns={"price_date": "date"}),
        on="date", how="left", validate="one_to_one",
    )
    risk = risk[risk["date"].isin(index_rows["date"])]
    allocations = targets.loc[:, list(ALLOCATION_COLUMNS)]
    watermark = as_of if as_of is not None else changes.newest
    write_strategy_update(engine, name, version, full, allocations, sleeve_rows(targets), index_rows.assign(data_as_of=watermark),
                          risk, final_state.to_dict(), _last_level(bench), watermark,
                          price_state=price_state.to_dict(), price_benchmark_level=_last_level(price_bench))
    report.base_date = d0
    report.first_new_date = index_rows["date"].min() if len(index_rows) else None
    report.last_date = final_state.date
    report.allocation_rows, report.index_rows, report.metric_rows = len(allocations), len(index_rows), len(risk)
    report.final_level = final_state.level
    return report


def _last_level(bench: pd.DataFrame | None) -> float | None:
    return bench["level"].iloc[-1] if bench is not None and len(bench) else None


def _metrics(all_index: pd.DataFrame, risk_free_rate: float, prefix: str = "") -> pd.DataFrame:
    """Section 8 on one of the two series (``prefix`` "" total return, "price_" price return)."""
    bench = all_index[f"{prefix}benchmark_return"]
    return metrics.metrics_as_of_each_date(
        all_index.loc[:, ["date", f"{prefix}level", f"{prefix}daily_return"]].rename(
            columns={f"{prefix}level": "level", f"{prefix}daily_return": "daily_return"}),
        pd.DataFrame({"date": all_index["date"], "daily_return": bench}) if bench.notna().any() else None,
        risk_free_rate,
    )


def _index_rows(daily: pd.DataFrame, bench: pd.DataFrame | None) -> pd.DataFrame:
    rows = daily.loc[:, ["date", "level", "daily_return", "turnover", "cost", "is_rebalance"]].copy()
    if bench is not None:
        b = bench.rename(columns={"level": "benchmark_level", "daily_return": "benchmark_return"})
        rows = rows.merge(b, on="date", how="left")
    else:
        rows["benchmark_level"] = np.nan
        rows["benchmark_return"] = np.nan
    return rows
