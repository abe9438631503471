"""`autoindex export`: a warehouse table to CSV (stdout or a file) or Parquet."""

from __future__ import annotations

import sys

import click

from autoindex_pipeline.cli.common import CONFIG_OPTION, fail, load
from autoindex_pipeline.cli.runner import warehouse_engine


@click.command()
@click.argument("table")
@CONFIG_OPTION
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="File to write (default: stdout for csv).")
@click.option("--strategy", default=None, help="Only this strategy's current config version (strategy tables).")
def export(table: str, config_path: str | None, fmt: str, output: str | None, strategy: str | None) -> None:
    """Export a warehouse table (prices, allocations, index_values, risk_metrics, ...)."""
    from autoindex_pipeline.warehouse.read import TABLES, read_table

    config = load(config_path)
    if table not in TABLES:
        fail(f"unknown table {table!r}; known: {', '.join(sorted(TABLES))}")
    engine = warehouse_engine(config)
    where = None
    if strategy is not None:
        if strategy not in config.strategies:
            fail(f"unknown strategy {strategy!r}; configured: {', '.join(config.strategies)}")
        if "strategy" not in TABLES[table].c:
            fail(f"--strategy applies to strategy tables, not {table}")
        where = {"strategy": strategy}
        if "version" in TABLES[table].c and table != "strategy_configs":
            where["version"] = config.strategies[strategy].version
    frame = read_table(engine, table, where)
    if fmt == "parquet":
        if not output:
            fail("--format parquet needs --output")
        frame.to_parquet(output, index=False)
    elif output:
        frame.to_csv(output, index=False)
    else:
        frame.to_csv(sys.stdout, index=False)
    if output:
        click.echo(f"wrote {len(frame):,} rows of {table} to {output}", err=True)
