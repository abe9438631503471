"""Warehouse -> refresh planner: what a catch-up tick should fetch, and which shares a run may
refresh, inside the provider's credit plan. No Dagster: the catch-up schedule
(defs/prices/schedules.py) and the ``market_cap_data`` asset turn these into runs and fetches.

Credits are TwelveData's (one per symbol per request, /statistics at
``shares_credits_per_call``); other providers cost nothing and get no budget. A day's
``credits_per_day`` is spent first by the daily prices run (one credit per universe symbol),
and what is left is shared: half to the catch-up (split over its ticks of the day), half to the
shares, when both come from TwelveData and the plan can pay for a shares call at all; all of it
to whichever does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain.calendar import last_closed_session, session_close_utc, sessions_between
from autoindex_pipeline.domain.refresh import CatchUpPlan, active_sessions, catch_up_plan, stale_shares
from autoindex_pipeline.warehouse.coverage import shares_known_from, stored_sessions, symbol_spans
from autoindex_pipeline.warehouse.gate import read_absences
from autoindex_pipeline.warehouse.read import price_coverage

if TYPE_CHECKING:
    import sqlalchemy as sa

CREDIT_PROVIDER = "twelvedata"
CATCH_UP_TICKS_PER_DAY = 2
SHARES_MAX_AGE_DAYS = 7


@dataclass(frozen=True)
class CreditBudget:
    """Credits one catch-up tick and one shares refresh may spend (None: no limit)."""

    catch_up_per_tick: int | None
    shares_per_run: int | None


def credit_budget(config: AutoIndexConfig) -> CreditBudget:
    providers = config.providers
    prices_paid = providers.prices == CREDIT_PROVIDER
    # Shares a plan cannot pay for per minute are skipped: reserving credits for them would only
    # slow the catch-up.
    shares_paid = (providers.shares_provider == CREDIT_PROVIDER
                   and providers.twelvedata.shares_credits_per_call <= providers.twelvedata.credits_per_minute)
    left = providers.twelvedata.credits_per_day - (len(config.symbols) if prices_paid else 0)
    left = max(left, 0)
    catch_up_total = (left // 2 if shares_paid else left) if prices_paid else 0
    return CreditBudget(
        catch_up_per_tick=catch_up_total // CATCH_UP_TICKS_PER_DAY if prices_paid else None,
        shares_per_run=left - catch_up_total if shares_paid else None,
    )


def plan_catch_up(config: AutoIndexConfig, engine: sa.Engine, now: pd.Timestamp) -> CatchUpPlan:
    """The catch-up plan from prices.start_date to the last session closed at ``now``."""
    calendar = config.prices.calendar
    last = last_closed_session(now, calendar)
    sessions = sessions_between(config.prices.start_date, last, calendar)
    symbols = config.symbols
    budget = credit_budget(config).catch_up_per_tick
    if sessions.empty:
        return catch_up_plan(sessions, symbols, pd.Series(dtype="datetime64[ns]"), pd.DataFrame(), pd.DataFrame(),
                             pd.Series(dtype=object), pd.Series(dtype=object), budget)
    first, end = sessions[0], sessions[-1]
    spans = symbol_spans(engine, symbols, first, end).set_index("symbol")
    absences = read_absences(engine, symbols)
    first_closes = spans["first_close"].reindex(symbols)
    # A symbol holding every session from its first close on, with no recorded absence, has no
    # hole: only the others are read row by row.
    absent = set(absences["symbol"])
    known_complete = {
        s for s in spans.index
        if s not in absent and spans.at[s, "sessions_held"] == len(active_sessions(sessions, spans.at[s, "first_close"]))
    }
    held = stored_sessions(engine, [s for s in symbols if s not in known_complete], first, end)
    coverage = price_coverage(engine, first, end).set_index("date")
    closes = pd.Series([session_close_utc(s, calendar) for s in sessions], index=sessions)
    return catch_up_plan(sessions, symbols, first_closes, held, absences, coverage["first_ingested_at"], closes,
                         budget, known_complete)


@dataclass(frozen=True)
class SharesPlan:
    symbols: tuple[str, ...]
    """What this run fetches (stalest first)."""
    note: str | None
    """Why some or all symbols are not fetched, for the log and metadata."""
    plan_limit: bool
    """The note names a plan limit (a person must change the plan or the source): a warning."""


def plan_shares(config: AutoIndexConfig, engine: sa.Engine, as_of: pd.Timestamp,
                max_age_days: int = SHARES_MAX_AGE_DAYS) -> SharesPlan:
    """Which symbols' shares outstanding a run refreshes. A source without credits (sample,
    files) refreshes every symbol every run, as before; TwelveData refreshes the symbols whose
    figure is older than ``max_age_days``, stalest first, as many as the day's shares budget pays
    for, and nothing (with a warning naming the limit) when one call cannot fit the plan."""
    symbols = config.symbols
    if config.providers.shares_provider != CREDIT_PROVIDER:
        return SharesPlan(tuple(symbols), None, False)
    td = config.providers.twelvedata
    per_call = td.shares_credits_per_call
    if per_call > td.credits_per_minute:
        return SharesPlan((), (
            f"shares outstanding skipped: one TwelveData /statistics call costs {per_call} credits "
            f"(providers.twelvedata.shares_credits_per_call) and the plan limit is {td.credits_per_minute} "
            "credits per minute (providers.twelvedata.credits_per_minute); set providers.shares to 'files' "
            "or configure a plan with fundamentals"), True)
    stale = stale_shares(symbols, shares_known_from(engine, symbols, CREDIT_PROVIDER), as_of, max_age_days)
    if not stale:
        return SharesPlan((), f"shares outstanding of all {len(symbols)} symbols are at most {max_age_days} days old", False)
    budget = credit_budget(config).shares_per_run or 0
    affordable = budget // per_call
    if affordable == 0:
        return SharesPlan((), (
            f"shares outstanding skipped: {len(stale)} symbols are due but the day's shares budget is {budget} "
            f"credits (providers.twelvedata.credits_per_day {td.credits_per_day}, less the daily prices run and "
            f"the catch-up) and one /statistics call costs {per_call}"), True)
    if affordable < len(stale):
        return SharesPlan(tuple(stale[:affordable]), (
            f"{affordable} of {len(stale)} due symbols refreshed within the day's shares budget of {budget} "
            "credits; the rest follow on the next runs, stalest first"), False)
    return SharesPlan(tuple(stale), None, False)
