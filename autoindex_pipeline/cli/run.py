"""`autoindex run`: the pipeline for a date range on the configured storage, in one of the three
refresh modes (full, smart, targeted)."""

from __future__ import annotations

import time

import click
import pandas as pd

from autoindex_pipeline.cli.common import CONFIG_OPTION, fail, load, parse_date, report_run, user
from autoindex_pipeline.cli.runner import news_day_range, run_index_job, run_news_job, run_prices_job, session_bounds
from autoindex_pipeline.cli.summary import summary_text
from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain.calendar import session_close_utc
from autoindex_pipeline.domain.refresh import RefreshRange, smart_refresh_plan
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade

INDEX_ASSETS = {"quality_report", "strategy_configs", "allocations", "index_values", "risk_metrics", "performance_reports"}
PRICE_ASSETS = {"assets", "prices", "market_cap_data"}
NEWS_ASSETS = {"news_articles", "news_sentiment", "sentiment_daily"}


@click.command()
@CONFIG_OPTION
@click.option("--start", default=None, help="First date (YYYY-MM-DD); default: prices.start_date.")
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
def run(
    config_path: str | None, start: str | None, end: str | None, refresh: str, symbols: str | None,
    select: str | None, reason: str | None, who: str | None, news: bool,
) -> None:
    """Run the pipeline for a date range on the configured storage."""
    started = time.monotonic()
    config = load(config_path)
    sessions = session_bounds(config, parse_date(start), parse_date(end))
    if sessions.empty:
        fail("no exchange sessions in the requested range")
    symbol_list = [s.strip().upper() for s in symbols.split(",")] if symbols else None
    if refresh == "targeted" and not symbol_list and not (start or end):
        fail("--refresh targeted needs --symbols and/or --start/--end")
    selection = [s.strip() for s in select.split(",")] if select else None
    unknown = sorted(set(selection or []) - PRICE_ASSETS - INDEX_ASSETS - NEWS_ASSETS)
    if unknown:
        fail(f"--select names unknown assets {unknown}; known: {sorted(PRICE_ASSETS | INDEX_ASSETS | NEWS_ASSETS)}")
    if refresh == "targeted":
        from autoindex_pipeline.warehouse.overrides import record_repair

        engine = create_warehouse_engine(config.database_url())
        upgrade(engine)
        record_repair(engine, who or user(), "targeted_refresh", reason or "targeted refresh (no reason given)",
                      symbol_list, sessions[0].date(), sessions[-1].date())
    # The three news assets are one step: selecting any of them runs the news job.
    news = news or bool(set(selection or []) & NEWS_ASSETS)
    ranges: list[RefreshRange]
    if refresh == "smart":
        ranges = plan_smart_refresh(config, sessions)
        if not ranges:
            click.echo(f"smart refresh: all {len(sessions)} sessions are present and complete; nothing to do")
    else:
        ranges = [RefreshRange(sessions[0], sessions[-1], len(sessions), refresh)]
    for rng in ranges:
        click.echo(f"{refresh} refresh: {rng.start.date()} .. {rng.end.date()} ({rng.sessions} sessions, {rng.reason})")
        price_selection = [a for a in selection if a in PRICE_ASSETS] if selection else None
        if selection and not price_selection:
            break
        result = run_prices_job(config, config_path, rng.start, rng.end, symbols=symbol_list, select=price_selection)
        report_run(result)
    if news:
        days = news_day_range(config, parse_date(start), parse_date(end))
        if days is None:
            click.echo(f"news: no day of the range is on or after news.start_date ({config.news.start_date})")
        else:
            click.echo(f"news: {days[0]} .. {days[1]} ({(days[1] - days[0]).days + 1} days)")
            report_run(run_news_job(config, config_path, *days))
    if selection is None or set(selection) & INDEX_ASSETS:
        report_run(run_index_job(config, config_path))
    click.echo(summary_text(config, time.monotonic() - started))


def plan_smart_refresh(config: AutoIndexConfig, sessions: pd.DatetimeIndex) -> list[RefreshRange]:
    from autoindex_pipeline.warehouse.read import price_coverage

    engine = create_warehouse_engine(config.database_url())
    upgrade(engine)
    coverage = price_coverage(engine, sessions[0], sessions[-1])
    closes = pd.Series([session_close_utc(s, config.prices.calendar) for s in sessions], index=sessions)
    return smart_refresh_plan(sessions, coverage, len(config.symbols), config.prices.min_symbol_coverage, closes)
