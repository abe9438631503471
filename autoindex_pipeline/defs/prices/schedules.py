"""The prices schedules: the only place the outside world (the US close) sets the time.

18:00 New York on exchange sessions (after the close, half days included); a weekday holiday is
a skipped tick with its reason, not a run. Everything downstream of prices runs by declarative
automation when its inputs update (defs/shared.py), not at a guessed time.

The catch-up schedule fills what the daily run could not (downtime, a provider outage, one
symbol's failed fetch): each tick plans from the warehouse (services/refresh.py) and requests
one prices run per planned request. A request's run key names its work (range and symbols), so
a tick never requests work an earlier tick already requested.
"""

from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd

from autoindex_pipeline.defs.resources import SettingsResource, WarehouseResource
from autoindex_pipeline.defs.shared import schedule_status
from autoindex_pipeline.domain.calendar import EXCHANGE_TIMEZONE, is_session
from autoindex_pipeline.domain.refresh import FetchRequest
from autoindex_pipeline.services.refresh import plan_catch_up

PRICES_CRON = "0 18 * * 1-5"


def build_prices_schedule(prices_job_name: str, calendar: str, provider: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="prices_after_close",
        cron_schedule=PRICES_CRON,
        execution_timezone=EXCHANGE_TIMEZONE,
        job_name=prices_job_name,
        default_status=schedule_status(),  # AUTOINDEX_START_AUTOMATION=1 starts it
        description="Today's prices partition at 18:00 New York, on exchange sessions only.",
    )
    def prices_after_close(context: dg.ScheduleEvaluationContext):
        day = context.scheduled_execution_time.astimezone(ZoneInfo(EXCHANGE_TIMEZONE)).date()
        if not is_session(day, calendar):
            return dg.SkipReason(f"{day} is not a {calendar} session (exchange holiday): no prices to fetch")
        key = day.isoformat()
        return dg.RunRequest(run_key=f"prices-{key}", partition_key=key, tags={"autoindex/provider": provider})

    return prices_after_close


# ------------------------------------------------------------------------------------------------
# Catch-up: nobody has to notice a hole for it to be filled

# Morning (before the open: whatever the night's downtime left) and evening (three hours after
# the 18:00 prices run, which takes about an hour on the free plan's 8 credits a minute).
CATCH_UP_CRON = "0 7,21 * * *"
# Dagster's documented run tags for a single run over a partition range.
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"
IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED]


def catch_up_run_request(request: FetchRequest, provider: str) -> dg.RunRequest:
    """One prices run for one planned request: a single run over its session range (the tags a
    single-run backfill carries), targeted at its symbols through the asset's run config."""
    run_config = {"ops": {"prices": {"config": {"symbols": list(request.symbols)}}}} if request.symbols else {}
    return dg.RunRequest(
        run_key=request.run_key,
        run_config=run_config,
        asset_selection=[dg.AssetKey("prices")],
        tags={
            PARTITION_RANGE_START_TAG: f"{request.start:%Y-%m-%d}",
            PARTITION_RANGE_END_TAG: f"{request.end:%Y-%m-%d}",
            "autoindex/provider": provider,
            "autoindex/catch_up": request.reason,
        },
    )


def build_catch_up_schedule(prices_job_name: str, provider: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="catch_up",
        cron_schedule=CATCH_UP_CRON,
        execution_timezone=EXCHANGE_TIMEZONE,
        job_name=prices_job_name,
        default_status=schedule_status(),  # AUTOINDEX_START_AUTOMATION=1 starts it
        description="Morning and evening: prices runs for what the warehouse lacks (per-symbol holes, missing "
        "and premature sessions) within the provider's credit budget; nothing when it is complete.",
    )
    def catch_up(context: dg.ScheduleEvaluationContext, settings: SettingsResource, warehouse: WarehouseResource):
        if context.instance.get_runs(dg.RunsFilter(job_name=prices_job_name, statuses=IN_FLIGHT), limit=1):
            # Its rows are not stored yet: planning now would request the same sessions again.
            return dg.SkipReason(f"a {prices_job_name} run is queued or in progress; the next tick plans after it")
        now = pd.Timestamp(context.scheduled_execution_time).tz_convert("UTC")
        plan = plan_catch_up(settings.config, warehouse.engine, now)
        if plan.complete:
            return dg.SkipReason(f"the warehouse holds every session to the last close before {now:%Y-%m-%d %H:%M} UTC")
        if not plan.requests:
            waiting = sum(r.credits for r in plan.deferred)
            return dg.SkipReason(f"{len(plan.deferred)} requests ({waiting} credits) wait: this tick's credit budget is spent")
        if plan.deferred:
            context.log.info(f"catch-up: {len(plan.deferred)} requests deferred to later ticks (credit budget)")
        return [catch_up_run_request(r, provider) for r in plan.requests]

    return catch_up
