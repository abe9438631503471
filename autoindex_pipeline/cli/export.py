"""`autoindex export`: a warehouse table to CSV (stdout or a file) or Parquet."""

from __future__ import annotations

import sys

import click

from autoindex_pipeline.cli.common import CONFIG_OPTION, fail, load, parse_timestamp
from autoindex_pipeline.cli.runner import warehouse_engine

# What the market_cap_data asset promises users is market cap and volume per session (the view
# market_caps over the point-in-time shares table of that name and the closes), not the shares alone.
MARKET_CAP_EXPORTS = {"market_cap_data", "market_caps"}


@click.command()
@click.argument("table")
@CONFIG_OPTION
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="File to write (default: stdout for csv).")
@click.option("--strategy", default=None, help="Only this strategy's current config version (strategy tables).")
@click.option("--as-of", "as_of", default=None, metavar="TIMESTAMP",
              help="index_values: the rows as published at TIMESTAMP (ISO, UTC unless it names an offset); "
                   "prices: the prices as the warehouse knew them then.")
def export(table: str, config_path: str | None, fmt: str, output: str | None, strategy: str | None,
           as_of: str | None) -> None:
    """Export a warehouse table (prices, allocations, index_values, risk_metrics, ...);
    market_cap_data: market cap and volume per symbol and session."""
    from autoindex_pipeline.warehouse.market_caps import read_market_caps
    from autoindex_pipeline.warehouse.read import TABLES, read_table
    from autoindex_pipeline.warehouse.revisions import read_index_values_as_published, read_prices_as_of

    config = load(config_path)
    if table not in TABLES and table not in MARKET_CAP_EXPORTS:
        fail(f"unknown table {table!r}; known: {', '.join(sorted({*TABLES, *MARKET_CAP_EXPORTS}))}")
    engine = warehouse_engine(config)
    where = None
    if strategy is not None:
        if strategy not in config.strategies:
            fail(f"unknown strategy {strategy!r}; configured: {', '.join(config.strategies)}")
        if table not in TABLES or "strategy" not in TABLES[table].c:
            fail(f"--strategy applies to strategy tables, not {table}")
        where = {"strategy": strategy}
        if "version" in TABLES[table].c and table != "strategy_configs":
            where["version"] = config.strategies[strategy].version
    if as_of is None:
        frame = read_market_caps(engine) if table in MARKET_CAP_EXPORTS else read_table(engine, table, where)
    elif table == "index_values":
        frame = read_index_values_as_published(engine, parse_timestamp(as_of, "--as-of"), where)
    elif table == "prices":
        frame = read_prices_as_of(engine, parse_timestamp(as_of, "--as-of"))
    else:
        fail(f"--as-of applies to index_values (as published) and prices (as known), not {table}")
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
