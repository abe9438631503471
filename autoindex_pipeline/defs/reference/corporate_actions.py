"""Reference data: corporate actions (splits and cash dividends, methodology section 2a).

Upstream of ``prices`` (its checks need the events: a split-like move no recorded split
explains is refused as wrong data) and of the index (which applies them). Not partitioned: the
events are few, keyed by (symbol, ex-date, kind) and upserted, each stamped with when the
warehouse first saw it, so an index computation as of T uses only what was known at T.
"""

import datetime as dt

import dagster as dg
import pandas as pd
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, PARTITION_NAME_TAG
from pydantic import Field

from autoindex_pipeline.defs.progress import fetch_or_fail
from autoindex_pipeline.defs.reference.assets import failure_summary, universe_assets
from autoindex_pipeline.defs.resources import ProvidersResource, SettingsResource, WarehouseResource
from autoindex_pipeline.defs.shared import CODE_VERSION, OWNERS, asset_tags, column_schema
from autoindex_pipeline.domain.calendar import last_closed_session
from autoindex_pipeline.providers.prices.twelvedata_shares import PlanLimitExceeded
from autoindex_pipeline.warehouse.corporate_actions import has_events_from, upsert_corporate_actions

RECENT_DAYS = 31


class CorporateActionsRunConfig(dg.Config):
    full_history: bool = Field(
        default=False,
        description="Fetch every event since prices.start_date. By default only the first fetch from a provider does; "
        f"later runs ask for the last {RECENT_DAYS} days (TwelveData bills these endpoints per symbol and call).",
    )


def run_end_date(context: dg.AssetExecutionContext, calendar: str) -> dt.date:
    """The last session the run is about. In a run over sessions (the asset is unpartitioned,
    its jobs are not) the run's last partition: a backfill of 2020 asks for 2020's events and
    the same run gives the same range whenever it executes. Else the last session closed when
    the run was created (the run's time, not the moment this step happens to start)."""
    tags = context.run.tags
    key = tags.get(ASSET_PARTITION_RANGE_END_TAG) or tags.get(PARTITION_NAME_TAG)
    if key:
        return pd.Timestamp(key).date()
    record = context.instance.get_run_record_by_id(context.run_id)
    created = pd.Timestamp(record.create_timestamp) if record is not None else None
    return last_closed_session(created, calendar=calendar).date()


@dg.asset(
    name="corporate_actions",
    group_name="reference",
    deps=[universe_assets],
    kinds={"sql"},
    metadata={"dagster/column_schema": column_schema("corporate_actions", descriptions={
        "ratio": "split: new shares per old share (2-for-1 = 2, 1-for-10 = 0.1)",
        "amount": "dividend per share as quoted on the ex-date",
        "first_seen": "when the warehouse first recorded the event as it stands (as-of reads)",
    })},
    owners=OWNERS,
    tags=asset_tags("reference"),
    code_version=CODE_VERSION,
)
def corporate_actions(
    context: dg.AssetExecutionContext,
    config: CorporateActionsRunConfig,
    settings: SettingsResource,
    warehouse: WarehouseResource,
    providers: ProvidersResource,
) -> dg.MaterializeResult:
    """Splits and cash dividends of the universe from the configured price provider, from the
    configured start date to the run's last session on the first fetch from a provider (or with
    ``full_history``), over the last 31 days afterwards. An event delivered again unchanged is
    left as it is; a changed ratio or amount is a new observation. A provider call that cannot
    fit the plan (TwelveData bills these endpoints per symbol) is skipped with a warning naming
    the limit, so the run goes on without new events."""
    cfg = settings.config
    start = pd.Timestamp(cfg.prices.start_date).date()
    end = run_end_date(context, cfg.prices.calendar)
    provider = providers.prices()
    if not config.full_history and has_events_from(warehouse.engine, provider.name):
        start = max(start, end - pd.Timedelta(days=RECENT_DAYS).to_pytimedelta())
    try:
        result = fetch_or_fail(lambda: provider.fetch_corporate_actions(cfg.symbols, start, end), provider.name)
    except PlanLimitExceeded as exc:
        context.log.warning(f"corporate actions skipped: {exc}")
        return dg.MaterializeResult(metadata={"dagster/row_count": 0, "provider": provider.name, "skipped": str(exc)})
    written = upsert_corporate_actions(warehouse.engine, result.frame)
    if result.failures:
        context.log.warning(f"no corporate actions for {len(result.failures)} symbols: {failure_summary(result.failures)}")
    if written.inserted or written.updated:
        context.log.info(f"corporate actions: {written.inserted} new, {written.updated} changed, {written.unchanged} unchanged")
    kinds = result.frame["kind"].value_counts().to_dict() if len(result.frame) else {}
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(result.frame),
            "provider": provider.name,
            "range": f"{start}..{end}",
            "splits": int(kinds.get("split", 0)),
            "dividends": int(kinds.get("dividend", 0)),
            "new_events": written.inserted,
            "changed_events": written.updated,
            "failures": failure_summary(result.failures),
            **result.stats.as_metadata(),
        }
    )
