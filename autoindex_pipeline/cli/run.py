"""`autoindex run`: the pipeline for a date range on the configured storage, in one of the three
refresh modes (full, smart, targeted)."""

from __future__ import annotations

import datetime as dt
import time

import click
import pandas as pd

from autoindex_pipeline.cli.common import (
    CONFIG_OPTION,
    fail,
    held_lines,
    load,
    parse_date,
    parse_timestamp,
    report_run,
    user,
)
from autoindex_pipeline.cli.runner import (
    news_day_range,
    run_index_job,
    run_news_job,
    run_pipeline_job,
    run_prices_job,
    session_bounds,
    warehouse_engine,
)
from autoindex_pipeline.cli.summary import summary_text
from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain.calendar import last_closed_session, session_close_utc
from autoindex_pipeline.domain.refresh import RefreshRange, smart_refresh_plan

INDEX_ASSETS = {"quality_report", "strategy_configs", "allocations", "index_values", "risk_metrics", "performance_reports"}
PRICE_ASSETS = {"assets", "corporate_actions", "prices", "market_cap_data"}
NEWS_ASSETS = {"news_articles", "news_sentiment", "sentiment_daily"}


@click.command()
@CONFIG_OPTION
@click.option("--start", default=None, help="First date (YYYY-MM-DD); default: prices.start_date (smart refresh: "
              "the first stored session).")
@click.option("--end", default=None, help="Last date; default: the last closed session.")
@click.option("--refresh", type=click.Choice(["full", "smart", "targeted"]), default="full", show_default=True,
              help="full: the whole range; smart: only missing, incomplete or premature sessions; "
                   "targeted: only --symbols (and/or the given dates).")
@click.option("--symbols", default=None, help="Comma-separated symbols (targeted refresh).")
@click.option("--select", default=None, help="Comma-separated asset names (default: all but the news).")
@click.option("--reason", default=None, help="Why (recorded in the quality audit for a targeted refresh).")
@click.option("--by", "who", default=None, help="Who (default: $USER), for the audit.")
@click.option("--news/--no-news", default=False, show_default=True,
              help="Also fetch and score the news of every calendar day from --start to --end (one run).")
@click.option("--as-of", "as_of", default=None, metavar="TIMESTAMP",
              help="Fetch nothing; recompute allocations, index values and risk metrics from the data as the "
                   "warehouse knew it at TIMESTAMP (ISO, UTC unless it names an offset) and publish them "
                   "(the replaced index rows stay queryable: export index_values --as-of).")
def run(
    config_path: str | None, start: str | None, end: str | None, refresh: str, symbols: str | None,
    select: str | None, reason: str | None, who: str | None, news: bool, as_of: str | None,
) -> None:
    """Run the pipeline for a date range on the configured storage."""
    started = time.monotonic()
    config = load(config_path)
    if as_of is not None:
        given = [name for name, value in (("--start", start), ("--end", end), ("--symbols", symbols),
                                          ("--select", select), ("--news", news or None)) if value]
        if given or refresh != "full":
            fail(f"--as-of recomputes the index from stored data only; it takes no {', '.join(given) or '--refresh'}")
        moment = parse_timestamp(as_of, "--as-of")
        click.echo(f"as of {moment.isoformat()}: recomputing allocations, index values and risk metrics")
        index_run = run_index_job(config, config_path, as_of=moment.isoformat())
        report_run(index_run)
        for line in held_lines(index_run):
            click.secho(line, fg="yellow", err=True)
        click.echo(summary_text(config, time.monotonic() - started))
        return
    first, last = parse_date(start, "--start"), parse_date(end, "--end")
    if first is not None and last is not None and first > last:
        fail(f"--start {first} is after --end {last}; give the earlier date first")
    if refresh == "smart" and first is None:
        first = smart_refresh_start(config)
    sessions = session_bounds(config, first, last)
    if sessions.empty:
        fail(no_sessions_message(config, first, last))
    symbol_list = [s.strip().upper() for s in symbols.split(",")] if symbols else None
    if refresh == "targeted" and not symbol_list and not (start or end):
        fail("--refresh targeted needs --symbols and/or --start/--end")
    selection = [s.strip() for s in select.split(",")] if select else None
    unknown = sorted(set(selection or []) - PRICE_ASSETS - INDEX_ASSETS - NEWS_ASSETS)
    if unknown:
        fail(f"--select names unknown assets {unknown}; known: {sorted(PRICE_ASSETS | INDEX_ASSETS | NEWS_ASSETS)}")
    if refresh == "targeted":
        from autoindex_pipeline.warehouse.overrides import record_repair

        record_repair(warehouse_engine(config), who or user(), "targeted_refresh",
                      reason or "targeted refresh (no reason given)", symbol_list, sessions[0].date(), sessions[-1].date())
    # The three news assets are one step: selecting any of them runs the news job.
    news = news or bool(set(selection or []) & NEWS_ASSETS)
    ranges: list[RefreshRange]
    if refresh == "smart":
        ranges = plan_smart_refresh(config, sessions)
        if not ranges:
            click.echo(f"smart refresh: all {len(sessions)} sessions are present and complete; nothing to do")
    else:
        ranges = [RefreshRange(sessions[0], sessions[-1], len(sessions), refresh)]
    price_selection = [a for a in selection if a in PRICE_ASSETS] if selection else None
    price_ranges = ranges if not (selection and not price_selection) else []
    # The whole graph (no --select, no news) is ONE run of pipeline_job for the last range:
    # prices, their checks, the gate, the index and the reports; a failed blocking check stops
    # everything downstream inside that run, so blocked prices never reach the index, as when
    # the index job ran after a failed prices run (which exits here, before it). One run, not
    # two: Dagster's per-run costs are paid once. The news is fetched before the index reads
    # it, so with --news the three jobs run in turn as before.
    whole_graph = selection is None and not news
    index_run = None
    for i, rng in enumerate(price_ranges):
        click.echo(f"{refresh} refresh: {rng.start.date()} .. {rng.end.date()} ({rng.sessions} sessions, {rng.reason})")
        if whole_graph and i == len(price_ranges) - 1:
            index_run = run_pipeline_job(config, config_path, rng.start, rng.end, symbols=symbol_list)
            report_run(index_run)
        else:
            report_run(run_prices_job(config, config_path, rng.start, rng.end, symbols=symbol_list, select=price_selection))
    if news:
        days = news_day_range(config, first, last)
        if days is None:
            click.echo(f"news: no day of the range is on or after news.start_date ({config.news.start_date})")
        else:
            click.echo(f"news: {days[0]} .. {days[1]} ({(days[1] - days[0]).days + 1} days)")
            report_run(run_news_job(config, config_path, *days))
    if index_run is None and (selection is None or set(selection) & INDEX_ASSETS):
        index_run = run_index_job(config, config_path)
        report_run(index_run)
    for line in held_lines(index_run) if index_run is not None else []:
        click.secho(line, fg="yellow", err=True)
    click.echo(summary_text(config, time.monotonic() - started))


def smart_refresh_start(config: AutoIndexConfig) -> dt.date:
    """Without --start a smart refresh plans from the first stored session, not from
    prices.start_date: before it nothing was ever fetched, and planning a decade of "missing"
    sessions re-fetches history nobody asked for. An empty warehouse starts at prices.start_date."""
    from autoindex_pipeline.warehouse.stored_range import first_price_session

    stored = first_price_session(warehouse_engine(config))
    if stored is None:
        click.echo(f"smart refresh: the warehouse holds no prices; planning from prices.start_date {config.prices.start_date}")
        return config.prices.start_date
    click.echo(f"smart refresh: planning from the first stored session {stored} (give --start to go further back)")
    return max(stored, config.prices.start_date)


def no_sessions_message(config: AutoIndexConfig, first: dt.date | None, last: dt.date | None) -> str:
    closed = last_closed_session(calendar=config.prices.calendar).date()
    if last is not None and last < config.prices.start_date:
        return (f"--end {last} is before prices.start_date {config.prices.start_date}; nothing is fetched before it "
                "(lower prices.start_date in the config to go further back)")
    if first is not None and first > closed:
        return f"--start {first} is after the last closed {config.prices.calendar} session ({closed}); nothing to fetch yet"
    return (f"no {config.prices.calendar} sessions between {first or config.prices.start_date} and {last or closed} "
            "(holidays and weekends only); widen the range")


def plan_smart_refresh(config: AutoIndexConfig, sessions: pd.DatetimeIndex) -> list[RefreshRange]:
    from autoindex_pipeline.warehouse.read import price_coverage

    engine = warehouse_engine(config)
    coverage = price_coverage(engine, sessions[0], sessions[-1])
    closes = pd.Series([session_close_utc(s, config.prices.calendar) for s in sessions], index=sessions)
    return smart_refresh_plan(sessions, coverage, len(config.symbols), config.prices.min_symbol_coverage, closes)
