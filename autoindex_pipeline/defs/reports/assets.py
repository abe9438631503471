"""Performance reports: daily, weekly and monthly, per strategy, vs the benchmark."""

import dagster as dg

from autoindex_pipeline.defs.resources import SettingsResource, WarehouseResource
from autoindex_pipeline.defs.shared import INPUTS_UPDATED_AND_CHECKED
from autoindex_pipeline.services.reports import build_reports, store_reports


@dg.asset(
    name="performance_reports",
    group_name="reports",
    deps=["index_values", "allocations"],
    kinds={"sql", "html"},
    automation_condition=INPUTS_UPDATED_AND_CHECKED,
)
def performance_reports(
    context: dg.AssetExecutionContext, settings: SettingsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Total return, CAGR, volatility, Sharpe, Sortino, max drawdown, win rate, best/worst day,
    turnover, top contributors and allocation changes, each vs the benchmark, for the current
    and the previous day, ISO week and month of every strategy. Stored as rows
    (performance_reports, performance_contributors, performance_allocation_changes) and rendered
    to an HTML page with a chart (index vs benchmark, drawdown) under <data_dir>/reports."""
    config = settings.config
    out_dir = config.data_dir / "reports"
    rendered = build_reports(warehouse.engine, config, out_dir)
    rows = store_reports(warehouse.engine, config, rendered)
    latest = {(r.report.strategy, r.report.period): r for r in rendered}  # the newest per kind wins
    monthly = [r for (strategy, period), r in latest.items() if period == "monthly"]
    metadata = {
        "dagster/row_count": rows,
        "reports": len(rendered),
        "folder": dg.MetadataValue.path(str(out_dir)),
    }
    for item in monthly:
        metadata[f"{item.report.strategy} monthly"] = dg.MetadataValue.md(item.markdown)
        metadata[f"{item.report.strategy} monthly page"] = dg.MetadataValue.path(str(item.html_path))
    context.log.info(f"{len(rendered)} reports written to {out_dir}")
    return dg.MaterializeResult(metadata=metadata)
