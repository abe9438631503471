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
INDEX_ASSETS = {"strategy_configs", "allocations", "index_values", "risk_metrics"}
PRICE_ASSETS = {"assets", "prices", "market_cap_data"}
EMBEDDED_INSTANCE_YAML = Path(__file__).parent / "data" / "dagster_embedded.yaml"


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
):  # noqa: ANN201
    """One run of the prices job over sessions start..end (a single-run backfill)."""
    import dagster as dg

    from autoindex_pipeline.definitions import build_definitions
    from autoindex_pipeline.defs.prices.definitions import PRICES_JOB

    defs = build_definitions(config_path)
    job = defs.resolve_job_def(PRICES_JOB)
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
        lines.append(f"  {table:<15}{count:>12,} rows")
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
    lines.extend(index_summary_lines(engine, config))
    if elapsed is not None:
        lines.append(f"elapsed          {elapsed:.1f} s")
    lines.append("next")
    lines.append(f"  UI             DAGSTER_HOME={os.environ.get('DAGSTER_HOME', '<data_dir>/dagster_home')} dagster dev  ->  http://127.0.0.1:3000")
    lines.append("  export         autoindex export prices --format csv --output prices.csv")
    return "\n".join(lines)


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
def demo(years: float, config_path: str | None) -> None:
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
    _report_run(run_prices_job(config, config_path, sessions[0], sessions[-1]))
    _report_run(run_index_job(config, config_path))
    click.echo(summary_text(config, time.monotonic() - started))


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None)
@click.option("--start", default=None, help="First date (YYYY-MM-DD); default: prices.start_date.")
@click.option("--end", default=None, help="Last date; default: the last closed session.")
@click.option("--refresh", type=click.Choice(["full", "smart", "targeted"]), default="full", show_default=True,
              help="full: the whole range; smart: only missing, incomplete or premature sessions; "
                   "targeted: only --symbols (and/or the given dates).")
@click.option("--symbols", default=None, help="Comma-separated symbols (targeted refresh).")
@click.option("--select", default=None, help="Comma-separated asset names (default: all).")
def run(config_path: str | None, start: str | None, end: str | None, refresh: str, symbols: str | None, select: str | None) -> None:
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
    unknown = sorted(set(selection or []) - PRICE_ASSETS - INDEX_ASSETS)
    if unknown:
        _fail(f"--select names unknown assets {unknown}; known: {sorted(PRICE_ASSETS | INDEX_ASSETS)}")
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
