"""`autoindex demo`: everything that exists, on the embedded default, for the last N years."""

from __future__ import annotations

import datetime as dt
import time

import click
import pandas as pd

from autoindex_pipeline.cli.common import CONFIG_OPTION, fail, load, report_run
from autoindex_pipeline.cli.runner import news_day_range, run_index_job, run_news_job, run_prices_job, session_bounds
from autoindex_pipeline.cli.summary import summary_text
from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain.calendar import last_closed_session
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade

DEMO_NEWS_DAYS = 10  # enough for a sentiment window; keeps the demo under a minute


@click.command()
@click.option("--years", type=float, default=2.0, show_default=True, help="How much history to build.")
@CONFIG_OPTION
@click.option("--news-days", type=click.IntRange(min=0), default=DEMO_NEWS_DAYS, show_default=True,
              help="Days of news (ending today) to build; 0 = none.")
def demo(years: float, config_path: str | None, news_days: int) -> None:
    """Materialize everything on the embedded default (sample data) and print a summary."""
    started = time.monotonic()
    config = load(config_path)
    end = last_closed_session(calendar=config.prices.calendar)
    start = (end - pd.DateOffset(days=round(365.25 * years))).date()
    sessions = session_bounds(config, start, end.date())
    if sessions.empty:
        fail(f"no sessions between {start} and {end.date()} (prices.start_date is {config.prices.start_date})")
    click.echo(f"building {len(sessions)} sessions ({sessions[0].date()} .. {sessions[-1].date()}) "
               f"for {len(config.symbols)} symbols from the '{config.providers.prices}' provider")
    for line in override_documented_sample_faults(config, sessions[0], sessions[-1]):
        click.echo(line)
    report_run(run_prices_job(config, config_path, sessions[0], sessions[-1]))
    today = pd.Timestamp.now(tz="America/New_York").date()
    days = news_day_range(config, today - dt.timedelta(days=news_days - 1), None) if news_days else None
    if days is not None:
        click.echo(f"building {(days[1] - days[0]).days + 1} days of news ({days[0]} .. {days[1]}) "
                   f"from the '{config.news.provider}' provider")
        report_run(run_news_job(config, config_path, *days))
    report_run(run_index_job(config, config_path))
    click.echo(summary_text(config, time.monotonic() - started))


def override_documented_sample_faults(config: AutoIndexConfig, start: pd.Timestamp, end: pd.Timestamp) -> list[str]:
    """The sample provider prints JPM's close x10 once a year on purpose, and the blocking
    checks stop the index on it, as they should. The demo records what an analyst would after
    reviewing it, an audited `exclude` override per documented bad print, and says so."""
    if config.providers.prices != "sample":
        return []
    from autoindex_pipeline.providers.prices.sample import SampleProvider
    from autoindex_pipeline.warehouse.overrides import set_override

    events = SampleProvider(config.universe_frame, seed=config.providers.sample.seed).fault_events(start, end)
    bad = events[(events["fault"] == "bad_print") & events["symbol"].isin(config.symbols)]
    engine = create_warehouse_engine(config.database_url())
    upgrade(engine)
    lines = []
    for row in bad.itertuples(index=False):
        set_override(engine, row.symbol, row.date.date(), "exclude",
                     f"documented sample fault: {row.detail}", "autoindex demo")
        lines.append(f"override: {row.symbol} {row.date.date()} excluded (documented sample bad print; "
                     "without it the blocking checks stop the index; see `autoindex quality audit`)")
    return lines
