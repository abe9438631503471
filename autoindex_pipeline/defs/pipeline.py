"""`pipeline_job`: prices, their checks, the quality gate, the index and the reports in ONE run
over a range of sessions, so a failed blocking check stops everything downstream within the
run (what `autoindex demo` / `autoindex run` and a manual full refresh in the UI use; the
scheduled path is prices_job plus declarative automation)."""

import dagster as dg

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.defs.shared import trading_day_partitions

PIPELINE_JOB = "pipeline_job"
PIPELINE_ASSETS = (
    "assets", "corporate_actions", "prices", "market_cap_data", "quality_report", "strategy_configs",
    "allocations", "index_values", "risk_metrics", "performance_reports",
)


def build(config: AutoIndexConfig) -> dg.Definitions:
    job = dg.define_asset_job(
        PIPELINE_JOB,
        selection=dg.AssetSelection.keys(*PIPELINE_ASSETS),
        partitions_def=trading_day_partitions(config.prices.start_date, config.prices.calendar),
        description="Prices for a range of sessions, their checks, the quality gate, the index and the "
        "performance reports, in one run.",
    )
    return dg.Definitions(jobs=[job])
