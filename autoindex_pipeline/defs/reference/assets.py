"""Reference data: the universe (`assets`) and market capitalisation and trading volume per
symbol and session (`market_cap_data`: point-in-time shares fetched into the table of that
name, read by users through the view `market_caps` over them and the stored closes)."""

import dagster as dg
import pandas as pd
from pydantic import Field

from autoindex_pipeline.defs.progress import FetchProgress, fetch_or_fail
from autoindex_pipeline.defs.resources import ProvidersResource, SettingsResource, WarehouseResource
from autoindex_pipeline.defs.shared import CODE_VERSION, OWNERS, asset_tags
from autoindex_pipeline.domain.calendar import last_closed_session
from autoindex_pipeline.providers.prices.twelvedata_shares import PlanLimitExceeded
from autoindex_pipeline.reporting.markdown import frame_to_markdown
from autoindex_pipeline.services.refresh import SHARES_MAX_AGE_DAYS, plan_shares
from autoindex_pipeline.warehouse import load
from autoindex_pipeline.warehouse.market_caps import latest_market_caps

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

# What a user reads (the view `market_caps`, `autoindex export market_cap_data`): one row per
# stored close with a shares figure known by then.
MARKET_CAP_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("symbol", "string", description="Ticker; (symbol, date) is unique"),
        dg.TableColumn("date", "date", description="Exchange session"),
        dg.TableColumn("close", "float", description="The session's raw close (prices)"),
        dg.TableColumn("volume", "float", description="Shares traded in the session (prices)"),
        dg.TableColumn("shares_outstanding", "float", description="The newest figure known on the session"),
        dg.TableColumn("shares_date", "date", description="The date that shares figure is known from"),
        dg.TableColumn("market_cap", "float", description="close x shares_outstanding"),
        dg.TableColumn("dollar_volume", "float", description="close x volume"),
    ]
)
LARGEST_SHOWN = 10


@dg.asset(name="assets", group_name="reference", kinds={"sql"}, metadata={"dagster/column_schema": ASSETS_SCHEMA},
          owners=OWNERS, tags=asset_tags("reference"), code_version=CODE_VERSION)
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


class SharesRunConfig(dg.Config):
    max_age_days: int = Field(
        default=SHARES_MAX_AGE_DAYS,
        ge=0,
        description="A source that charges credits (TwelveData) refreshes only the shares figures older than this.",
    )


@dg.asset(
    name="market_cap_data",
    group_name="reference",
    deps=[universe_assets],
    kinds={"sql"},
    metadata={"dagster/column_schema": MARKET_CAP_SCHEMA},
    owners=OWNERS,
    tags=asset_tags("reference"),
    code_version=CODE_VERSION,
)
def market_cap_data(
    context: dg.AssetExecutionContext,
    config: SharesRunConfig,
    settings: SettingsResource,
    warehouse: WarehouseResource,
    providers: ProvidersResource,
) -> dg.MaterializeResult:
    """Market capitalisation and trading volume per symbol and session: the view `market_caps`
    (close x the newest shares figure known on the session, the session's volume and dollar
    volume), which `autoindex export market_cap_data` writes out. The asset fetches the shares
    outstanding, point in time, into the table `market_cap_data` (each figure with the date it
    is known from; upserted, so a provider that only knows today's figure adds to the history
    instead of replacing it); the closes and volumes are the `prices` asset's. Its metadata is
    the newest stored session's market caps (in a run where `prices` has not finished yet, the
    session before: the two run side by side).

    Shares change slowly and a paid source bills them far above a price (TwelveData: 50 credits
    a symbol), so such a source refreshes only the figures older than ``max_age_days``, stalest
    first, within the day's shares budget (services/refresh.py); a call that cannot fit the plan
    is skipped with a warning naming the limit, never failing the prices run it is part of."""
    cfg = settings.config
    as_of = last_closed_session(calendar=cfg.prices.calendar).date()
    plan = plan_shares(cfg, warehouse.engine, pd.Timestamp(as_of), config.max_age_days)
    if plan.note:
        (context.log.warning if plan.plan_limit else context.log.info)(plan.note)
    if not plan.symbols:
        return _skipped(warehouse.engine, cfg.providers.shares_provider, as_of, plan.note or "")
    provider = providers.shares()
    try:
        with FetchProgress(context.log, "shares", len(plan.symbols)):
            result = fetch_or_fail(lambda: provider.fetch_shares(list(plan.symbols), as_of), provider.name)
    except PlanLimitExceeded as exc:
        context.log.warning(f"shares outstanding skipped: {exc}")
        return _skipped(warehouse.engine, provider.name, as_of, str(exc))
    written = load.upsert_shares(warehouse.engine, result.frame)
    covered = result.frame["symbol"].nunique() if len(result.frame) else 0
    if result.failures:
        context.log.warning(f"no shares outstanding for {len(result.failures)} symbols: {failure_summary(result.failures)}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written.rows_written,
            "shares_written": written.rows_written,
            "provider": provider.name,
            "as_of": str(as_of),
            "symbols_requested": len(plan.symbols),
            "symbols_with_shares": covered,
            "symbols_without_shares": len(plan.symbols) - covered,
            "failures": failure_summary(result.failures),
            "skipped": plan.note or "",
            **result.stats.as_metadata(),
            **market_cap_metadata(warehouse.engine),
        }
    )


def _skipped(engine, provider: str, as_of, reason: str) -> dg.MaterializeResult:
    # Still a materialization (0 rows): the runs downstream of it in the same job must not be
    # skipped because shares were fresh or unaffordable.
    return dg.MaterializeResult(
        metadata={"dagster/row_count": 0, "shares_written": 0, "provider": provider, "as_of": str(as_of),
                  "symbols_requested": 0, "skipped": reason, **market_cap_metadata(engine)}
    )


def market_cap_metadata(engine) -> dict[str, object]:
    """The newest stored session's market caps and volumes, as numbers the UI plots over the
    materializations and the largest caps as a table."""
    latest = latest_market_caps(engine)
    if latest.empty:
        return {"market_cap_session": "none", "symbols_with_market_cap": 0}
    largest = latest.nlargest(LARGEST_SHOWN, "market_cap")[
        ["symbol", "close", "volume", "shares_outstanding", "market_cap", "dollar_volume"]]
    return {
        "market_cap_session": f"{latest['date'].max():%Y-%m-%d}",
        "symbols_with_market_cap": len(latest),
        "total_market_cap": float(latest["market_cap"].sum()),
        "median_market_cap": float(latest["market_cap"].median()),
        "total_volume": float(latest["volume"].sum()),
        "total_dollar_volume": float(latest["dollar_volume"].sum()),
        "largest_market_caps": dg.MetadataValue.md(frame_to_markdown(largest)),
    }


def failure_summary(failures: dict[str, str], limit: int = 20) -> str:
    """A bounded, readable list of per-symbol failures for logs and metadata."""
    items = sorted(failures.items())
    text = "; ".join(f"{symbol}: {reason}" for symbol, reason in items[:limit])
    return text + (f"; ... and {len(items) - limit} more" if len(items) > limit else "")
