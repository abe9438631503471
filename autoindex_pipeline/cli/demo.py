"""`autoindex demo`: everything that exists, on the embedded default, for the last N years."""

from __future__ import annotations

import datetime as dt
import time

import click
import pandas as pd

from autoindex_pipeline.cli.common import CONFIG_OPTION, fail, held_lines, load, report_run
from autoindex_pipeline.cli.runner import (
    news_day_range,
    run_index_job,
    run_news_job,
    run_prices_job,
    session_bounds,
    warehouse_engine,
)
from autoindex_pipeline.cli.summary import summary_text
from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain.calendar import last_closed_session, sessions_between

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
    index_run = run_index_job(config, config_path)
    report_run(index_run)
    for line in held_lines(index_run):
        click.secho(line, fg="yellow", err=True)
    click.echo(summary_text(config, time.monotonic() - started))


def override_documented_sample_faults(config: AutoIndexConfig, start: pd.Timestamp, end: pd.Timestamp) -> list[str]:
    """The sample provider prints JPM's close x10 once a year on purpose, and the blocking
    checks stop the index on it, as they should. The demo records what an analyst would after
    reviewing it, an audited `exclude` override per documented bad print, and says so; and the
    documented absences (halts, missing days, the delisting), without which the quality gate
    holds the index at the first of them."""
    if config.providers.prices != "sample":
        return []
    from autoindex_pipeline.providers.prices.sample import SampleProvider
    from autoindex_pipeline.warehouse.overrides import set_override

    events = SampleProvider(config.universe_frame, seed=config.providers.sample.seed).fault_events(start, end)
    events = events[events["symbol"].isin(config.symbols)]
    bad = events[events["fault"] == "bad_print"]
    engine = warehouse_engine(config)
    lines = []
    for row in bad.itertuples(index=False):
        set_override(engine, row.symbol, row.date.date(), "exclude",
                     f"documented sample fault: {row.detail}", "autoindex demo")
        lines.append(f"override: {row.symbol} {row.date.date()} excluded (documented sample bad print; "
                     "without it the blocking checks stop the index; see `autoindex quality audit`)")
    return lines + record_documented_absences(engine, config, events)


ABSENCE_OF_FAULT = {"halt": "halt", "missing_day": "no_data", "delisting": "delisted"}


def documented_absences(config: AutoIndexConfig, events: pd.DataFrame) -> pd.DataFrame:
    """symbol, kind, date_from, date_to (NaT: open-ended), reason of the sample's documented
    absences among ``events``: each halt (its consecutive sessions as one absence), each missing
    day, and the delisting from the session after its date on."""
    rows = []
    for symbol, halts in events[events["fault"] == "halt"].groupby("symbol"):
        sessions = sessions_between(halts["date"].min().date(), halts["date"].max().date(), config.prices.calendar)
        position = pd.Series(sessions.get_indexer(halts["date"]), index=halts["date"].to_numpy())
        for _, run in position.groupby((position.diff() != 1).cumsum().to_numpy()):
            rows.append((symbol, "halt", run.index[0], run.index[-1],
                         f"documented sample fault: trading halt of {len(run)} session(s)"))
    for row in events[events["fault"] == "missing_day"].itertuples(index=False):
        rows.append((row.symbol, "no_data", row.date, row.date, "documented sample fault: the provider has no row"))
    for row in events[events["fault"] == "delisting"].itertuples(index=False):
        after = sessions_between(row.date.date() + dt.timedelta(days=1), row.date.date() + dt.timedelta(days=10),
                                 config.prices.calendar)
        rows.append((row.symbol, "delisted", after[0], pd.NaT,
                     f"documented sample fault: delisted, last session {row.date.date()}"))
    frame = pd.DataFrame(rows, columns=["symbol", "kind", "date_from", "date_to", "reason"])
    for column in ("date_from", "date_to"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    return frame


def record_documented_absences(engine, config: AutoIndexConfig, events: pd.DataFrame) -> list[str]:
    """Record the documented absences not recorded yet (a second demo adds no row); one line
    per kind."""
    from autoindex_pipeline.warehouse.gate import read_absences, record_absence

    wanted = documented_absences(config, events)
    if wanted.empty:
        return []
    stored = read_absences(engine, sorted(set(wanted["symbol"])))
    lines = []
    for kind, group in wanted.groupby("kind", sort=False):
        added = 0
        for row in group.itertuples(index=False):
            if _covered(stored, row):
                continue
            date_to = None if pd.isna(row.date_to) else row.date_to.date()
            record_absence(engine, row.symbol, row.date_from.date(), date_to, kind, row.reason, "autoindex demo")
            added += 1
        spans = ", ".join(
            f"{r.symbol} {r.date_from.date()}" + (" on" if pd.isna(r.date_to) else
                                                  "" if r.date_to == r.date_from else f" .. {r.date_to.date()}")
            for r in group.itertuples(index=False)
        )
        lines.append(f"absence: {kind} {spans} ({added} recorded, {len(group) - added} already there; documented "
                     "sample faults; without them the quality gate holds the index; see `autoindex quality audit`)")
    return lines


def _covered(stored: pd.DataFrame, row) -> bool:
    same = stored[(stored["symbol"] == row.symbol) & (stored["kind"] == row.kind) & (stored["date_from"] <= row.date_from)]
    if pd.isna(row.date_to):
        return bool(same["date_to"].isna().any())
    return bool((same["date_to"].isna() | (same["date_to"] >= row.date_to)).any())
