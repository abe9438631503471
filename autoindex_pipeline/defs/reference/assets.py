"""Reference data: the universe (`assets`) and point-in-time shares (`market_cap_data`)."""

import dagster as dg

from autoindex_pipeline.defs.progress import FetchProgress, fetch_or_fail
from autoindex_pipeline.defs.resources import ProvidersResource, SettingsResource, WarehouseResource
from autoindex_pipeline.domain.calendar import last_closed_session
from autoindex_pipeline.warehouse import load

ASSETS_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("symbol", "string", description="Ticker, primary key"),
        dg.TableColumn("name", "string"),
        dg.TableColumn("asset_class", "string", description="equity | etf | commodity"),
        dg.TableColumn("sector", "string"),
        dg.TableColumn("is_benchmark", "bool", description="The benchmark is never a constituent"),
        dg.TableColumn("in_universe", "bool", description="False once a symbol leaves the universe file"),
    ]
)

MARKET_CAP_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("symbol", "string"),
        dg.TableColumn("date", "date", description="Known from this date (point in time)"),
        dg.TableColumn("shares_outstanding", "float"),
        dg.TableColumn("source", "string"),
        dg.TableColumn("ingested_at", "timestamp"),
    ]
)


@dg.asset(name="assets", group_name="reference", kinds={"sql"}, metadata={"dagster/column_schema": ASSETS_SCHEMA})
def universe_assets(settings: SettingsResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The investable universe and the benchmark, from the universe file named in autoindex.yaml.
    Symbols that leave the file are flagged `in_universe = false`, never deleted."""
    universe = settings.config.universe_frame
    result = load.sync_assets(warehouse.engine, universe)
    by_class = universe.groupby("asset_class").size().to_dict()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(universe),
            "benchmark": settings.config.universe.benchmark,
            "symbols_by_class": by_class,
            "symbols_retired": result.rows_deleted,
        }
    )


@dg.asset(
    name="market_cap_data",
    group_name="reference",
    deps=[universe_assets],
    kinds={"sql"},
    metadata={"dagster/column_schema": MARKET_CAP_SCHEMA},
)
def market_cap_data(
    context: dg.AssetExecutionContext,
    settings: SettingsResource,
    warehouse: WarehouseResource,
    providers: ProvidersResource,
) -> dg.MaterializeResult:
    """Shares outstanding per symbol, point in time (each figure with the date it is known
    from); market cap at t = latest shares on or before t x close at t. Upserted, so a provider
    that only knows today's figure adds to the history instead of replacing it."""
    config = settings.config
    symbols = config.symbols
    as_of = last_closed_session(calendar=config.prices.calendar).date()
    provider = providers.shares()
    with FetchProgress(context.log, "shares", len(symbols)):
        result = fetch_or_fail(lambda: provider.fetch_shares(symbols, as_of), provider.name)
    written = load.upsert_shares(warehouse.engine, result.frame)
    covered = result.frame["symbol"].nunique() if len(result.frame) else 0
    if result.failures:
        context.log.warning(f"no shares outstanding for {len(result.failures)} symbols: {failure_summary(result.failures)}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written.rows_written,
            "provider": provider.name,
            "as_of": str(as_of),
            "symbols_with_shares": covered,
            "symbols_without_shares": len(symbols) - covered,
            "failures": failure_summary(result.failures),
            **result.stats.as_metadata(),
        }
    )


def failure_summary(failures: dict[str, str], limit: int = 20) -> str:
    """A bounded, readable list of per-symbol failures for logs and metadata."""
    items = sorted(failures.items())
    text = "; ".join(f"{symbol}: {reason}" for symbol, reason in items[:limit])
    return text + (f"; ... and {len(items) - limit} more" if len(items) > limit else "")
