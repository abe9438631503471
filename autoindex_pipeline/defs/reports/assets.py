"""Performance reports: daily, weekly and monthly, per strategy, vs the benchmark."""

import dagster as dg

from autoindex_pipeline.defs.quality.results import check_result, check_specs
from autoindex_pipeline.defs.resources import SettingsResource, WarehouseResource
from autoindex_pipeline.defs.shared import CODE_VERSION, INPUTS_UPDATED_AND_CHECKED, OWNERS, asset_tags, column_schema
from autoindex_pipeline.services.reports import PERIODS, build_reports, store_reports, ui_charts
from autoindex_pipeline.services.result_checks import evaluate_reports


@dg.asset(
    name="performance_reports",
    group_name="reports",
    deps=["index_values", "allocations"],
    kinds={"sql", "html"},
    automation_condition=INPUTS_UPDATED_AND_CHECKED,
    owners=OWNERS,
    tags=asset_tags("reports"),
    code_version=CODE_VERSION,
    metadata={"dagster/column_schema": column_schema(
        "performance_reports", "performance_contributors", "performance_allocation_changes")},
    check_specs=check_specs("performance_reports"),
)
def performance_reports(
    context: dg.AssetExecutionContext, settings: SettingsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Total return, CAGR, volatility, Sharpe, Sortino, max drawdown, win rate, best/worst day,
    turnover, top contributors and allocation changes, each vs the benchmark, for the current
    and the previous day, ISO week and month of every strategy. Stored as rows
    (performance_reports, performance_contributors, performance_allocation_changes) and rendered
    to an HTML page with a chart (index vs benchmark, drawdown) under <data_dir>/reports. Only
    the reports whose figures or chart changed since they were last rendered are drawn and
    stored again (`reports rendered`)."""
    config = settings.config
    out_dir = config.data_dir / "reports"
    rendered = build_reports(warehouse.engine, config, out_dir)
    store_reports(warehouse.engine, config, rendered)
    rows = sum(len(r.report.rows()) for r in rendered)  # the current reports' rows, re-stored or kept
    latest = {(r.report.strategy, r.report.period): r for r in rendered}  # the newest per kind wins
    monthly = [r for (strategy, period), r in latest.items() if period == "monthly"]
    metadata = {
        "dagster/row_count": rows,
        "reports": len(rendered),
        "reports rendered": sum(r.rendered for r in rendered),
        "folder": dg.MetadataValue.path(str(out_dir)),
    }
    charts = ui_charts(warehouse.engine, config, rendered, out_dir)
    for item in monthly:
        # The chart inside the page (the UI cannot open a file path), then the figures.
        chart = charts.get(item.report.strategy, "")
        metadata[f"{item.report.strategy} monthly"] = dg.MetadataValue.md(f"{chart}\n\n{item.markdown}")
        metadata[f"{item.report.strategy} monthly page"] = dg.MetadataValue.path(str(item.html_path))
        figures = item.report.figures
        for metric in ("total_return", "max_drawdown"):
            if metric in figures.index and figures.loc[metric, "index"] == figures.loc[metric, "index"]:
                metadata[f"{item.report.strategy} monthly {metric}"] = float(figures.loc[metric, "index"])
    context.log.info(f"{len(rendered)} reports in {out_dir}, {metadata['reports rendered']} rendered "
                     "(the others unchanged since they were last rendered)")
    outcomes = evaluate_reports(warehouse.engine, config, rendered, PERIODS)
    return dg.MaterializeResult(metadata=metadata,
                                check_results=[check_result(o, "performance_reports") for o in outcomes.values()])
