"""The prices domain: reference data, daily prices, the job that refreshes them and its schedules."""

from __future__ import annotations

import dagster as dg

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.defs.prices.assets import build_prices_asset
from autoindex_pipeline.defs.prices.schedules import build_catch_up_schedule, build_prices_schedule
from autoindex_pipeline.defs.reference.assets import market_cap_data, universe_assets
from autoindex_pipeline.defs.reference.corporate_actions import corporate_actions
from autoindex_pipeline.defs.shared import trading_day_partitions

PRICES_JOB = "prices_job"


def build(config: AutoIndexConfig) -> dg.Definitions:
    partitions = trading_day_partitions(config.prices.start_date, config.prices.calendar)
    # The spot check's documented cadence is monthly (reconciliation_job); per run on request.
    per_run = config.quality.reconciliation_provider is not None and config.quality.reconciliation_every_run
    prices = build_prices_asset(partitions, reconciliation=per_run)
    prices_job = dg.define_asset_job(
        PRICES_JOB,
        selection=[universe_assets, corporate_actions, prices, market_cap_data],
        partitions_def=partitions,
        description="Refresh the universe, corporate actions, daily prices and shares outstanding for a range of sessions.",
    )
    return dg.Definitions(
        assets=[universe_assets, corporate_actions, prices, market_cap_data],
        jobs=[prices_job],
        schedules=[
            build_prices_schedule(PRICES_JOB, config.prices.calendar, config.providers.prices),
            build_catch_up_schedule(PRICES_JOB, config.providers.prices),
        ],
    )
