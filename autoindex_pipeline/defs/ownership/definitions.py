"""The ownership domain: `insider_transactions` and `institutional_holdings`, data for users
(the AutoIndex system's performance tables), not inputs to the methodology. Weekly: filings
arrive days after the trades and quarterly for 13F holdings."""

import datetime as dt

import dagster as dg

from autoindex_pipeline.defs.resources import ProvidersResource, SettingsResource, WarehouseResource
from autoindex_pipeline.defs.shared import CODE_VERSION, OWNERS, asset_tags, column_schema
from autoindex_pipeline.providers.prices.base import ProviderError
from autoindex_pipeline.services.ownership import OwnershipUnavailable, refresh_ownership

OWNERSHIP_JOB = "ownership_job"


def _result(context: dg.AssetExecutionContext, settings: SettingsResource, warehouse: WarehouseResource,
            providers: ProvidersResource, table: str) -> dg.MaterializeResult:
    try:
        done = refresh_ownership(warehouse.engine, settings.config, table, dt.datetime.now(dt.UTC), providers.prices)
    except (OwnershipUnavailable, ProviderError) as exc:
        # A plan without the endpoint (TwelveData's 403, or a call above the credits per
        # minute) is a configuration fact, not an outage: skip, saying so, and fail nothing.
        context.log.warning(f"{table}: skipped, {exc}")
        return dg.MaterializeResult(metadata={"skipped": str(exc), "dagster/row_count": 0})
    if done.skipped:
        context.log.warning(f"{table}: skipped, {done.skipped}")
    else:
        context.log.info(f"{table}: {done.delivered} rows from {done.source} for {done.symbols} equities, {done.written} written"
                         + (f", {done.credits_used} credits spent" if done.credits_used else ""))
    return dg.MaterializeResult(metadata={
        "source": done.source, "symbols": done.symbols, "rows_delivered": done.delivered, "rows_written": done.written,
        "skipped": done.skipped or "", "provider_credits_used": done.credits_used,
        "symbols_failed": len(done.failures or {}),
        "failures": "; ".join(f"{k}: {v}" for k, v in list((done.failures or {}).items())[:10]),
    })


@dg.asset(name="insider_transactions", group_name="ownership", kinds={"sql"}, owners=OWNERS,
          tags=asset_tags("ownership", tier="support"), code_version=CODE_VERSION,
          metadata={"dagster/column_schema": column_schema("insider_transactions")})
def insider_transactions(context: dg.AssetExecutionContext, settings: SettingsResource,
                         warehouse: WarehouseResource, providers: ProvidersResource) -> dg.MaterializeResult:
    """Insider transactions of the universe's equities (new ones inserted; a repeated one is
    stored once). Data for users: the index does not read it."""
    return _result(context, settings, warehouse, providers, "insider_transactions")


@dg.asset(name="institutional_holdings", group_name="ownership", kinds={"sql"}, owners=OWNERS,
          tags=asset_tags("ownership", tier="support"), code_version=CODE_VERSION,
          metadata={"dagster/column_schema": column_schema("institutional_holdings")})
def institutional_holdings(context: dg.AssetExecutionContext, settings: SettingsResource,
                           warehouse: WarehouseResource, providers: ProvidersResource) -> dg.MaterializeResult:
    """Institutional holders of the universe's equities per reporting date (a date delivered
    again replaces its rows). Data for users: the index does not read it."""
    return _result(context, settings, warehouse, providers, "institutional_holdings")


ownership_job = dg.define_asset_job(OWNERSHIP_JOB, selection=[insider_transactions, institutional_holdings],
                                    description="Refresh insider transactions and institutional holdings (weekly).")


def build() -> dg.Definitions:
    return dg.Definitions(
        assets=[insider_transactions, institutional_holdings],
        jobs=[ownership_job],
        schedules=[dg.ScheduleDefinition(
            name="ownership_weekly", cron_schedule="0 10 * * 6", execution_timezone="America/New_York",
            job_name=OWNERSHIP_JOB, default_status=dg.DefaultScheduleStatus.STOPPED,
            description="weekly: insider transactions and institutional holdings",
        )],
    )
