"""`autoindex`: drive the pipeline without the UI.

Every command runs the same Dagster definitions the UI shows, in a real Dagster instance, so a
run started here appears in `dagster dev` with its partitions, logs and metadata.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import sys
import time
from pathlib import Path

import click
import pandas as pd

from autoindex_pipeline.config import AutoIndexConfig, ConfigError, load_config
from autoindex_pipeline.domain.calendar import last_closed_session, session_close_utc, sessions_between
from autoindex_pipeline.domain.refresh import RefreshRange, smart_refresh_plan
from autoindex_pipeline.warehouse.engine import create_warehouse_engine, safe_url
from autoindex_pipeline.warehouse.migrate import upgrade

# Dagster's documented run tags for a single run over a partition range.
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"
INDEX_ASSETS = {"quality_report", "strategy_configs", "allocations", "index_values", "risk_metrics", "performance_reports"}
PRICE_ASSETS = {"assets", "prices", "market_cap_data"}
NEWS_ASSETS = {"news_articles", "news_sentiment", "sentiment_daily"}
DEMO_NEWS_DAYS = 10  # enough for a sentiment window; keeps the demo under a minute
EMBEDDED_INSTANCE_YAML = Path(__file__).parent.parent / "data" / "dagster_embedded.yaml"


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


def _load(config_path: str | None) -> AutoIndexConfig:
    try:
        return load_config(config_path)
    except ConfigError as exc:
        _fail(str(exc))
        raise  # unreachable; keeps type checkers honest


def dagster_instance(config: AutoIndexConfig):  # noqa: ANN201 - dagster import is lazy
    """$DAGSTER_HOME's instance when set (production), else the embedded default: Dagster's
    SQLite storage under <data_dir>/dagster_home, created on first use."""
    import dagster as dg

    if not os.environ.get("DAGSTER_HOME"):
        home = config.data_dir / "dagster_home"
        home.mkdir(parents=True, exist_ok=True)
        if not (home / "dagster.yaml").exists():
            shutil.copyfile(EMBEDDED_INSTANCE_YAML, home / "dagster.yaml")
        os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def _parse_date(value: str | None) -> dt.date | None:
    return None if value is None else pd.Timestamp(value).date()


def _session_bounds(config: AutoIndexConfig, start: dt.date | None, end: dt.date | None) -> pd.DatetimeIndex:
    last = last_closed_session(calendar=config.prices.calendar).date()
    first = max(start or config.prices.start_date, config.prices.start_date)
    return sessions_between(first, min(end or last, last), config.prices.calendar)


def run_prices_job(
    config: AutoIndexConfig,
    config_path: str | None,
    start: pd.Timestamp,
    end: pd.Timestamp,
    symbols: list[str] | None = None,
    select: list[str] | None = None,
    instance=None,  # noqa: ANN001
    job_name: str | None = None,
):  # noqa: ANN201
    """One run of the prices job (or another session-partitioned job) over sessions start..end:
    a single-run backfill."""
    import dagster as dg

    from autoindex_pipeline.definitions import build_definitions
    from autoindex_pipeline.defs.prices.definitions import PRICES_JOB

    defs = build_definitions(config_path)
    job = defs.resolve_job_def(job_name or PRICES_JOB)
    run_config: dict = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    if symbols:
        run_config["ops"] = {"prices": {"config": {"symbols": symbols}}}
    tags = {
        PARTITION_RANGE_START_TAG: start.strftime("%Y-%m-%d"),
        PARTITION_RANGE_END_TAG: end.strftime("%Y-%m-%d"),
    }
    return job.execute_in_process(
        run_config=run_config,
        instance=instance or dagster_instance(config),
        tags=tags,
        asset_selection=[dg.AssetKey(key) for key in select] if select else None,
        raise_on_error=False,
    )


def run_pipeline_job(config: AutoIndexConfig, config_path: str | None, start: pd.Timestamp, end: pd.Timestamp,
                     symbols: list[str] | None = None, instance=None):  # noqa: ANN001, ANN201
    """Prices start..end, their checks, the quality gate, the index and the reports in one run:
    a failed blocking check stops the rest of the run."""
    from autoindex_pipeline.defs.pipeline import PIPELINE_JOB

    return run_prices_job(config, config_path, start, end, symbols=symbols, instance=instance, job_name=PIPELINE_JOB)


def run_index_job(config: AutoIndexConfig, config_path: str | None, instance=None):  # noqa: ANN001, ANN201
    """One run of the index job: strategy configs, then allocations, index values, metrics."""
    from autoindex_pipeline.definitions import build_definitions
    from autoindex_pipeline.defs.strategy.definitions import INDEX_JOB

    job = build_definitions(config_path).resolve_job_def(INDEX_JOB)
    return job.execute_in_process(
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        instance=instance or dagster_instance(config),
        raise_on_error=False,
    )


def run_news_job(
    config: AutoIndexConfig,
    config_path: str | None,
    start: dt.date,
    end: dt.date,
    instance=None,  # noqa: ANN001
):  # noqa: ANN201
    """One run of the news job over the calendar days start..end (a single-run backfill)."""
    from autoindex_pipeline.definitions import build_definitions
    from autoindex_pipeline.defs.news.definitions import NEWS_JOB

    job = build_definitions(config_path).resolve_job_def(NEWS_JOB)
    return job.execute_in_process(
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        instance=instance or dagster_instance(config),
        tags={PARTITION_RANGE_START_TAG: start.isoformat(), PARTITION_RANGE_END_TAG: end.isoformat()},
        raise_on_error=False,
    )


def run_news_retention_job(config: AutoIndexConfig, config_path: str | None, as_of: dt.date | None = None, instance=None):  # noqa: ANN001, ANN201
    """One run of the retention job: articles older than news.retention_days move to the archive."""
    from autoindex_pipeline.definitions import build_definitions
    from autoindex_pipeline.defs.news.definitions import NEWS_RETENTION_JOB

    job = build_definitions(config_path).resolve_job_def(NEWS_RETENTION_JOB)
    run_config: dict = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    if as_of is not None:
        run_config["ops"] = {"news_archive": {"config": {"as_of": as_of.isoformat()}}}
    return job.execute_in_process(run_config=run_config, instance=instance or dagster_instance(config), raise_on_error=False)


def news_day_range(config: AutoIndexConfig, start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date] | None:
    """Calendar days of the news partitions inside start..end (default: news.start_date ..
    today in New York); None when the range holds none."""
    from autoindex_pipeline.domain.calendar import EXCHANGE_TIMEZONE

    today = pd.Timestamp.now(tz=EXCHANGE_TIMEZONE).date()
    first = max(start or config.news.start_date, config.news.start_date)
    last = min(end or today, today)
    return (first, last) if first <= last else None


def _report_run(result) -> None:  # noqa: ANN001
    if result.success:
        return
    for event in result.all_events:
        if event.is_failure and event.event_specific_data and getattr(event.event_specific_data, "error", None):
            click.secho(f"step {event.step_key} failed: {event.event_specific_data.error.message.strip()}", fg="red", err=True)
    _fail(f"run {result.run_id} failed (see its logs in the UI)")


def summary_text(config: AutoIndexConfig, elapsed: float | None = None) -> str:
    """A summary a person can read: what is in the warehouse and how good it is."""
    from autoindex_pipeline.domain.quality import completeness, duplicate_rows, validity_violations
    from autoindex_pipeline.warehouse.read import read_prices, read_shares, table_counts

    engine = create_warehouse_engine(config.database_url())
    counts = table_counts(engine)
    prices = read_prices(engine)
    lines = ["", "AutoIndex summary", "=" * 60]
    lines.append(f"warehouse        {safe_url(config.database_url())}")
    for table, count in counts.items():
        lines.append(f"  {table:<32}{count:>12,} rows")
    if prices.empty:
        lines.append("no prices stored yet")
        return "\n".join(lines)
    first, last = prices["date"].min().date(), prices["date"].max().date()
    sessions = sessions_between(first, last, config.prices.calendar)
    shares = read_shares(engine)
    lines.append(f"prices           {prices['symbol'].nunique()} symbols, {first} .. {last} ({len(sessions)} sessions)")
    lines.append(f"market cap       shares outstanding for {shares['symbol'].nunique()} symbols")
    comp = completeness(prices, sessions)
    low = comp[comp["completeness"] < 0.98].sort_values("completeness")
    invalid = validity_violations(prices)
    dupes = duplicate_rows(prices)
    lines.append("quality")
    lines.append(f"  completeness   mean {comp['completeness'].mean():.4f}, min {comp['completeness'].min():.4f} (target >= 0.98)")
    if len(low):
        worst = ", ".join(f"{r.symbol} {r.completeness:.3f}" for r in low.head(8).itertuples())
        lines.append(f"  below target   {len(low)} symbols: {worst}")
    lines.append(f"  invalid rows   {len(invalid)}" + (
        ": " + ", ".join(f"{r.symbol} {r.date.date()} ({r.reason})" for r in invalid.head(5).itertuples()) if len(invalid) else ""
    ))
    lines.append(f"  duplicates     {len(dupes)}")
    lines.extend(quality_report_lines(engine, config))
    lines.extend(news_summary_lines(engine))
    lines.extend(index_summary_lines(engine, config))
    if elapsed is not None:
        lines.append(f"elapsed          {elapsed:.1f} s")
    lines.append("next")
    lines.append(f"  UI             DAGSTER_HOME={os.environ.get('DAGSTER_HOME', '<data_dir>/dagster_home')} dagster dev  ->  http://127.0.0.1:3000")
    lines.append("  export         autoindex export prices --format csv --output prices.csv")
    return "\n".join(lines)


def quality_report_lines(engine, config: AutoIndexConfig) -> list[str]:  # noqa: ANN001
    """The newest quality report: portfolio score vs the gate, red symbols, failed checks,
    overrides in force."""
    from autoindex_pipeline.warehouse.read import read_table

    runs = read_table(engine, "quality_runs")
    if runs.empty:
        return []
    latest = runs.sort_values("as_of").iloc[-1]
    scores = read_table(engine, "quality_scores", {"as_of": latest["as_of"]})
    red = scores[scores["colour"] == "red"].sort_values("score")["symbol"].tolist()
    overrides = read_table(engine, "price_overrides")
    gate = "passes" if latest["portfolio_score"] >= config.quality.min_portfolio_score else "FAILS"
    lines = [
        f"  report         portfolio score {latest['portfolio_score']:.4f} ({gate} the {config.quality.min_portfolio_score} gate), "
        f"{latest['green']} green / {latest['yellow']} yellow / {latest['red']} red over {latest['sessions']} sessions to {latest['as_of']}",
        f"  red symbols    {', '.join(red[:10]) or 'none'}" + (f" (+{len(red) - 10})" if len(red) > 10 else ""),
        f"  failed checks  {latest['failed_checks'] or 'none'}",
        f"  overrides      {len(overrides)}" + (": " + ", ".join(f"{r.symbol} {r.date} {r.action}" for r in overrides.head(5).itertuples()) if len(overrides) else ""),
        f"  HTML report    {config.data_dir / 'reports' / 'quality' / 'quality_report.html'}",
    ]
    return lines


def news_summary_lines(engine, top: int = 5) -> list[str]:  # noqa: ANN001
    """Articles, symbols covered, mean sentiment and the newest day's top movers."""
    from autoindex_pipeline.warehouse.news import read_sentiment_daily, read_top_movers
    from autoindex_pipeline.warehouse.read import table_counts

    daily = read_sentiment_daily(engine)
    if daily.empty:
        return []
    counts = table_counts(engine)
    first, last = daily["date"].min().date(), daily["date"].max().date()
    scores = int(daily["article_count"].sum())
    weights = daily["article_count"] / scores  # per (article, symbol) score, not per daily row
    lines = ["news and sentiment"]
    lines.append(f"  days           {first} .. {last} ({daily['date'].nunique()} days with news)")
    lines.append(f"  articles       {counts['news_articles']:,} live, {counts['news_articles_archive']:,} archived; "
                 f"{scores:,} (article, symbol) scores; {daily['symbol'].nunique()} symbols covered")
    lines.append(f"  mean sentiment {(daily['mean_score'] * weights).sum():+.3f}  "
                 f"(positive {(daily['share_positive'] * weights).sum():.0%}, negative {(daily['share_negative'] * weights).sum():.0%})")
    movers = read_top_movers(engine, last, last, per_day=top)
    if len(movers):
        lines.append(f"  top movers on {last}")
        for row in movers.itertuples(index=False):
            title = " ".join(str(row.title).split())
            title = title if len(title) <= 60 else title[:59] + "…"
            lines.append(f"    {row.symbol:<6}{row.mean_score:+.2f} over {row.article_count} article(s); "
                         f"\"{title}\" ({row.source}, {row.score:+.2f} {row.model})")
    return lines


def index_summary_lines(engine, config: AutoIndexConfig) -> list[str]:  # noqa: ANN001
    """Final level and headline metrics of each strategy's current version, beside the benchmark."""
    from autoindex_pipeline.domain import metrics
    from autoindex_pipeline.warehouse.read import read_table

    index = read_table(engine, "index_values")
    if index.empty:
        return []
    lines = ["index (base 100)"]
    header = f"  {'':<34}{'level':>9}{'total':>9}{'CAGR':>8}{'Sharpe':>8}{'max DD':>9}"
    lines.append(header)
    bench_row = None
    for name, strat in config.strategies.items():
        rows = index[(index["strategy"] == name) & (index["version"] == strat.version)].sort_values("date")
        if rows.empty:
            continue
        returns = rows["daily_return"].iloc[1:]
        lines.append(_metric_line(f"{name} (from {rows['date'].iloc[0]})", rows["level"].iloc[-1], returns, strat.risk_free_rate, metrics))
        if bench_row is None and rows["benchmark_level"].notna().any():
            bench_row = (rows["benchmark_level"].iloc[-1], rows["benchmark_return"].iloc[1:], strat.risk_free_rate)
    if bench_row is not None:
        lines.append(_metric_line(f"benchmark {config.universe.benchmark}", bench_row[0], bench_row[1], bench_row[2], metrics))
    return lines


def _metric_line(label: str, level: float, returns: pd.Series, rf: float, metrics) -> str:  # noqa: ANN001
    def pct(x: float) -> str:
        return "n/a" if pd.isna(x) else f"{x:.1%}"

    sharpe = metrics.sharpe(returns, rf)
    return (
        f"  {label:<34}{level:>9.2f}{pct(level / 100 - 1):>9}{pct(metrics.cagr(returns)):>8}"
        f"{'n/a' if pd.isna(sharpe) else f'{sharpe:.2f}':>8}{pct(metrics.max_drawdown(returns)):>9}"
    )


@click.group()
def main() -> None:
    """AutoIndex: a rules-based equity index as a Dagster asset graph."""
    logging.getLogger("alembic").setLevel(logging.WARNING)


@main.command()
@click.option("--years", type=float, default=2.0, show_default=True, help="How much history to build.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, help="autoindex.yaml to use.")
@click.option("--news-days", type=click.IntRange(min=0), default=DEMO_NEWS_DAYS, show_default=True,
              help="Days of news (ending today) to build; 0 = none.")
def demo(years: float, config_path: str | None, news_days: int) -> None:
    """Materialize everything on the embedded default (sample data) and print a summary."""
    started = time.monotonic()
    config = _load(config_path)
    end = last_closed_session(calendar=config.prices.calendar)
    start = (end - pd.DateOffset(days=round(365.25 * years))).date()
    sessions = _session_bounds(config, start, end.date())
    if sessions.empty:
        _fail(f"no sessions between {start} and {end.date()} (prices.start_date is {config.prices.start_date})")
    click.echo(f"building {len(sessions)} sessions ({sessions[0].date()} .. {sessions[-1].date()}) "
               f"for {len(config.symbols)} symbols from the '{config.providers.prices}' provider")
    for line in override_documented_sample_faults(config, sessions[0], sessions[-1]):
        click.echo(line)
    _report_run(run_prices_job(config, config_path, sessions[0], sessions[-1]))
    today = pd.Timestamp.now(tz="America/New_York").date()
    days = news_day_range(config, today - dt.timedelta(days=news_days - 1), None) if news_days else None
    if days is not None:
        click.echo(f"building {(days[1] - days[0]).days + 1} days of news ({days[0]} .. {days[1]}) "
                   f"from the '{config.news.provider}' provider")
        _report_run(run_news_job(config, config_path, *days))
    _report_run(run_index_job(config, config_path))
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


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None)
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
    config = _load(config_path)
    sessions = _session_bounds(config, _parse_date(start), _parse_date(end))
    if sessions.empty:
        _fail("no exchange sessions in the requested range")
    symbol_list = [s.strip().upper() for s in symbols.split(",")] if symbols else None
    if refresh == "targeted" and not symbol_list and not (start or end):
        _fail("--refresh targeted needs --symbols and/or --start/--end")
    selection = [s.strip() for s in select.split(",")] if select else None
    unknown = sorted(set(selection or []) - PRICE_ASSETS - INDEX_ASSETS - NEWS_ASSETS)
    if unknown:
        _fail(f"--select names unknown assets {unknown}; known: {sorted(PRICE_ASSETS | INDEX_ASSETS | NEWS_ASSETS)}")
    if refresh == "targeted":
        from autoindex_pipeline.warehouse.overrides import record_repair

        engine = create_warehouse_engine(config.database_url())
        upgrade(engine)
        record_repair(engine, who or _user(), "targeted_refresh", reason or "targeted refresh (no reason given)",
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
        _report_run(result)
    if news:
        days = news_day_range(config, _parse_date(start), _parse_date(end))
        if days is None:
            click.echo(f"news: no day of the range is on or after news.start_date ({config.news.start_date})")
        else:
            click.echo(f"news: {days[0]} .. {days[1]} ({(days[1] - days[0]).days + 1} days)")
            _report_run(run_news_job(config, config_path, *days))
    if selection is None or set(selection) & INDEX_ASSETS:
        _report_run(run_index_job(config, config_path))
    click.echo(summary_text(config, time.monotonic() - started))


def plan_smart_refresh(config: AutoIndexConfig, sessions: pd.DatetimeIndex) -> list[RefreshRange]:
    from autoindex_pipeline.warehouse.read import price_coverage

    engine = create_warehouse_engine(config.database_url())
    upgrade(engine)
    coverage = price_coverage(engine, sessions[0], sessions[-1])
    closes = pd.Series([session_close_utc(s, config.prices.calendar) for s in sessions], index=sessions)
    return smart_refresh_plan(sessions, coverage, len(config.symbols), config.prices.min_symbol_coverage, closes)


@main.command()
@click.argument("table")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None)
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="File to write (default: stdout for csv).")
@click.option("--strategy", default=None, help="Only this strategy's current config version (strategy tables).")
def export(table: str, config_path: str | None, fmt: str, output: str | None, strategy: str | None) -> None:
    """Export a warehouse table (prices, allocations, index_values, risk_metrics, ...)."""
    from autoindex_pipeline.warehouse.read import TABLES, read_table

    config = _load(config_path)
    if table not in TABLES:
        _fail(f"unknown table {table!r}; known: {', '.join(sorted(TABLES))}")
    engine = create_warehouse_engine(config.database_url())
    upgrade(engine)
    where = None
    if strategy is not None:
        if strategy not in config.strategies:
            _fail(f"unknown strategy {strategy!r}; configured: {', '.join(config.strategies)}")
        if "strategy" not in TABLES[table].c:
            _fail(f"--strategy applies to strategy tables, not {table}")
        where = {"strategy": strategy}
        if "version" in TABLES[table].c and table != "strategy_configs":
            where["version"] = config.strategies[strategy].version
    frame = read_table(engine, table, where)
    if fmt == "parquet":
        if not output:
            _fail("--format parquet needs --output")
        frame.to_parquet(output, index=False)
    elif output:
        frame.to_csv(output, index=False)
    else:
        frame.to_csv(sys.stdout, index=False)
    if output:
        click.echo(f"wrote {len(frame):,} rows of {table} to {output}", err=True)


@main.group("news")
def news_group() -> None:
    """News maintenance."""


@news_group.command("archive")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None)
@click.option("--as-of", default=None, help="Reference day (YYYY-MM-DD) retention counts back from; default: today.")
def news_archive(config_path: str | None, as_of: str | None) -> None:
    """Move articles older than news.retention_days to the archive tables (idempotent)."""
    config = _load(config_path)
    result = run_news_retention_job(config, config_path, as_of=_parse_date(as_of))
    _report_run(result)
    meta = result.asset_materializations_for_node("news_archive")[0].metadata
    click.echo(
        f"archived articles dated before {meta['cutoff'].value}: moved {meta['articles_moved'].value:,} articles and "
        f"{meta['sentiment_rows_moved'].value:,} scores; {meta['articles_live'].value:,} articles live, "
        f"{meta['articles_in_archive'].value:,} in the archive"
    )


def _user() -> str:
    return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


@main.group()
def quality() -> None:
    """Data quality: the report, overrides and the audit trail."""


@quality.command("report")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None)
@click.option("--output", type=click.Path(file_okay=False), required=True, help="Folder for quality_report.html.")
def quality_report_cmd(config_path: str | None, output: str) -> None:
    """Score every symbol over the last quality.report_sessions sessions and write the HTML report."""
    from pathlib import Path

    from autoindex_pipeline.services.quality_report import build_quality_report

    config = _load(config_path)
    engine = create_warehouse_engine(config.database_url())
    upgrade(engine)
    report = build_quality_report(engine, config, Path(output))
    if report is None:
        _fail("no prices stored yet")
    click.echo(report.markdown)
    click.echo(f"\nportfolio score {report.portfolio_score:.4f} (gate {config.quality.min_portfolio_score}); "
               f"report: {report.html_path}")


@quality.command("override")
@click.argument("symbol")
@click.argument("date")
@click.option("--action", type=click.Choice(["exclude", "accept"]), required=True,
              help="exclude: the close is wrong, the index treats it as missing; accept: it is genuine.")
@click.option("--reason", required=True, help="Why (recorded with who and when).")
@click.option("--by", "who", default=None, help="Who (default: $USER).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None)
def quality_override(symbol: str, date: str, action: str, reason: str, who: str | None, config_path: str | None) -> None:
    """Record a reviewed price row; the checks stop flagging it. Raw rows are never changed."""
    from autoindex_pipeline.warehouse.overrides import set_override

    config = _load(config_path)
    engine = create_warehouse_engine(config.database_url())
    upgrade(engine)
    try:
        set_override(engine, symbol, pd.Timestamp(date).date(), action, reason, who or _user())
    except ValueError as exc:
        _fail(str(exc))
    click.echo(f"{symbol.upper()} {date}: {action} (by {who or _user()}: {reason}); re-materialize prices or the "
               "index for it to take effect")


@quality.command("audit")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None)
def quality_audit_cmd(config_path: str | None) -> None:
    """Every override and repair, with who, when and why."""
    from autoindex_pipeline.warehouse.overrides import read_audit

    config = _load(config_path)
    engine = create_warehouse_engine(config.database_url())
    upgrade(engine)
    click.echo(read_audit(engine).to_string(index=False))


@main.group()
def db() -> None:
    """Warehouse maintenance."""


@db.command("upgrade")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None)
def db_upgrade(config_path: str | None) -> None:
    """Apply the Alembic migrations to the configured warehouse."""
    config = _load(config_path)
    url = config.database_url()
    revision = upgrade(create_warehouse_engine(url))
    click.echo(f"warehouse {safe_url(url)} is at revision {revision}")


if __name__ == "__main__":
    main()
