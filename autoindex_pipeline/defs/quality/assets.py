"""The data-quality report and the portfolio-score gate before allocations."""

import dagster as dg

from autoindex_pipeline.defs.quality.results import check_result, check_specs
from autoindex_pipeline.defs.resources import SettingsResource, WarehouseResource
from autoindex_pipeline.defs.shared import CODE_VERSION, INPUTS_UPDATED_AND_CHECKED, OWNERS, asset_tags, column_schema
from autoindex_pipeline.services.quality_report import build_quality_report, store_quality_report, validation_metadata


@dg.asset(
    name="quality_report",
    group_name="quality",
    deps=["prices"],
    kinds={"sql", "html"},
    automation_condition=INPUTS_UPDATED_AND_CHECKED,
    check_specs=check_specs("quality_report"),
    owners=OWNERS,
    tags=asset_tags("quality"),
    code_version=CODE_VERSION,
    metadata={"dagster/column_schema": column_schema("quality_scores", "quality_runs", "quality_run_checks")},
)
def quality_report(
    context: dg.AssetExecutionContext, settings: SettingsResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Per-symbol quality score (mean of its check pass rates) with a green / yellow / red grid
    (> 0.95 / 0.85-0.95 / < 0.85), the portfolio score and its trend, over the last
    quality.report_sessions sessions; stored in quality_scores / quality_runs and rendered as an
    HTML page (linked below) with the session x symbol grid."""
    config = settings.config
    report = build_quality_report(warehouse.engine, config, config.data_dir / "reports" / "quality")
    if report is None:
        raise dg.Failure("no prices stored yet: materialize prices first")
    rows = store_quality_report(warehouse.engine, report)
    colours = report.scores["colour"].value_counts().to_dict()
    context.log.info(f"portfolio quality score {report.portfolio_score:.4f}; {colours}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "as_of": str(report.as_of.date()),
            "portfolio_score": float(report.portfolio_score),
            "red_symbols": int(colours.get("red", 0)),
            "yellow_symbols": int(colours.get("yellow", 0)),
            "green_symbols": int(colours.get("green", 0)),
            "report": dg.MetadataValue.path(str(report.html_path)),
            "summary": dg.MetadataValue.md(report.markdown),
            # The trend inside the page: the HTML report above is a path the UI cannot open.
            **({"trend": dg.MetadataValue.md(report.trend_image)} if report.trend_image else {}),
            **validation_metadata(report.validation),
        },
        check_results=[check_result(report.gate, "quality_report"), check_result(report.validation_check, "quality_report")],
    )
