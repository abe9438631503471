"""The strategy domain: configs, allocations, index values, risk metrics."""

import dagster as dg

from autoindex_pipeline.defs.strategy.assets import index_assets, strategy_configs

INDEX_JOB = "index_job"


def build() -> dg.Definitions:
    index_job = dg.define_asset_job(
        INDEX_JOB,
        selection=dg.AssetSelection.assets(strategy_configs, index_assets)
        | dg.AssetSelection.keys("quality_report", "performance_reports"),
        description="The quality report (gate), strategy configs, allocations, index values, risk "
        "metrics and performance reports, from stored prices.",
    )
    return dg.Definitions(assets=[strategy_configs, index_assets], jobs=[index_job])
