"""Strategies, allocations, index values and risk metrics (methodology sections 3-8).

Not partitioned by day: an index level at D depends on every session before it. The three
tables are computed together from warehouse state (``compute.index_builder``) in one
transaction, incrementally when only new sessions arrived, in full when an old price partition
was re-materialized.
"""

import dagster as dg
import pandas as pd
from pydantic import Field

from autoindex_pipeline.defs.quality.results import check_result, check_specs
from autoindex_pipeline.defs.reference.assets import market_cap_data
from autoindex_pipeline.defs.resources import SettingsResource, WarehouseResource
from autoindex_pipeline.defs.shared import (
    CODE_VERSION,
    DAILY_FRESHNESS,
    INPUTS_UPDATED_AND_CHECKED,
    OWNERS,
    asset_tags,
    column_schema,
)
from autoindex_pipeline.domain.strategy import StrategyConfigError
from autoindex_pipeline.services.index import sync_strategy_configs, update_strategy
from autoindex_pipeline.services.index_checks import FULL_CHECK_TAG, FULL_CHECK_VALUE, evaluate_index
from autoindex_pipeline.services.result_checks import RISK_CHECKS, evaluate_risk_metrics
from autoindex_pipeline.services.ui_figures import index_figures


@dg.asset(name="strategy_configs", group_name="strategy", kinds={"sql"},
          automation_condition=dg.AutomationCondition.newly_missing(),
          owners=OWNERS, tags=asset_tags("strategy"), code_version=CODE_VERSION,
          metadata={"dagster/column_schema": column_schema("strategy_configs")})
def strategy_configs(settings: SettingsResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every named strategy in autoindex.yaml under its content-hash version. Changing a
    strategy's parameters adds a version; rows computed under the old one stay as they were."""
    stored = sync_strategy_configs(warehouse.engine, settings.config)
    current = stored[stored["is_current"].astype(bool)]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(stored),
            "current_versions": dg.MetadataValue.md(
                current.loc[:, ["strategy", "version", "created_at"]].to_markdown(index=False)
            ),
        }
    )


_UI = {"owners": OWNERS, "tags": asset_tags("strategy"), "code_version": CODE_VERSION}
INDEX_SPECS = [
    dg.AssetSpec("allocations", group_name="strategy", kinds={"sql"}, automation_condition=INPUTS_UPDATED_AND_CHECKED,
                 description="Target weights at every rebalance date with each sleeve's contribution.",
                 metadata={"dagster/column_schema": column_schema(
                     "allocations", "allocation_sleeves", descriptions={"weight": "Target weight after the cap; sums to 1 per date"})},
                 **_UI),
    dg.AssetSpec("index_values", group_name="strategy", kinds={"sql"}, automation_condition=INPUTS_UPDATED_AND_CHECKED,
                 description="Daily index level from base 100, beside the benchmark rebased to 100.",
                 metadata={"dagster/column_schema": column_schema(
                     "index_values", descriptions={"level": "Total-return level, base 100", "benchmark_level": "Benchmark rebased to 100",
                                       "data_as_of": "The data version the row was computed from (an as-of run's moment)"})},
                 freshness_policy=DAILY_FRESHNESS, **_UI),
    dg.AssetSpec("risk_metrics", group_name="strategy", kinds={"sql"}, automation_condition=INPUTS_UPDATED_AND_CHECKED,
                 description="Risk and performance metrics as of each date, from the base date.",
                 metadata={"dagster/column_schema": column_schema(
                     "risk_metrics", descriptions={"n_returns": "Returns since the base date; every metric is NULL below 20"})},
                 **_UI),
]


class IndexRunConfig(dg.Config):
    """Run config of ``index_assets`` (the Launchpad's ``ops: index_assets: config:``)."""

    as_of: str | None = Field(
        default=None,
        description="An ISO timestamp (UTC unless it names an offset): recompute allocations, index values and risk "
        "metrics from the data as the warehouse knew it then (price revisions recorded, events first seen, shares, "
        "sentiment and overrides stored on or before it) and publish them; the replaced index rows stay in "
        "index_value_revisions. Empty: the latest data.",
    )

    def moment(self) -> pd.Timestamp | None:
        if not self.as_of:
            return None
        try:
            stamp = pd.Timestamp(self.as_of)
        except ValueError:
            raise dg.Failure(description=f"index_assets config as_of: {self.as_of!r} is not an ISO timestamp") from None
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


CHECK_SPECS = check_specs("allocations", "index_values", "risk_metrics")
CHECK_ASSET = {spec.name: spec.asset_key.to_user_string() for spec in CHECK_SPECS}


@dg.multi_asset(
    specs=[
        spec.replace_attributes(deps=["prices", "corporate_actions", market_cap_data, strategy_configs, "quality_report", "sentiment_daily"])
        for spec in INDEX_SPECS
    ],
    check_specs=CHECK_SPECS,
    name="index_assets",
)
def index_assets(
    context: dg.AssetExecutionContext, config: IndexRunConfig, settings: SettingsResource, warehouse: WarehouseResource
):
    """Bring every configured strategy up to the newest stored session (or, with ``as_of``,
    recompute it from the data as known at that moment)."""
    as_of = config.moment()
    config = settings.config
    # Idempotent and cheap: every version the rows below name is in strategy_configs.
    sync_strategy_configs(warehouse.engine, config)
    reports = []
    for name in config.strategies:
        try:
            report = update_strategy(warehouse.engine, config, name, as_of=as_of)
        except StrategyConfigError as exc:
            raise dg.Failure(description=f"strategy {name!r}: {exc}") from None
        for note in report.notes:
            context.log.warning(f"{name}: {note}")
        context.log.info(
            f"{name} v{report.version}: {report.mode}; {report.index_rows} index rows to "
            f"{report.last_date.date() if report.last_date is not None else '-'}, level {report.final_level}"
        )
        reports.append(report)
    table = "\n".join(
        f"| {r.strategy} | {r.version} | {r.mode}{': ' + '; '.join(r.notes) if r.notes else ''} | {r.last_date.date() if r.last_date is not None else ''} "
        f"| {'' if r.final_level is None else f'{r.final_level:.4f}'} |"
        for r in reports
    )
    summary = dg.MetadataValue.md("| strategy | version | mode | last date | level |\n|---|---|---|---|---|\n" + table)
    yield dg.MaterializeResult(asset_key="allocations", metadata={
        "dagster/row_count": sum(r.allocation_rows for r in reports), "strategies": summary})
    held = [r for r in reports if r.held_from is not None]
    # Complete sessions only: say which session the index waits for (the index_held alert
    # reads these), per strategy and for the earliest of them.
    earliest = min((r.held_from for r in held), default=None)
    held_meta = {
        "held_from": str(earliest.date()),
        "held_reason": "; ".join(f"{r.strategy}: {r.held_reason}" for r in held),
        "held_symbols": ",".join(sorted({s for r in held if r.held_from == earliest for s in r.held_symbols})),
        **{f"{r.strategy} held_from": str(r.held_from.date()) for r in held},
    } if held else {}
    # Plain numbers per strategy (the UI plots each over the materializations) and the chart
    # itself, embedded in the page.
    figures = index_figures(warehouse.engine, config)
    charts = {f"{name} chart": dg.MetadataValue.md(md) for name, md in figures.charts.items()}
    yield dg.MaterializeResult(asset_key="index_values", metadata={
        "dagster/row_count": sum(r.index_rows for r in reports), "strategies": summary, **held_meta,
        **figures.index_numbers, **charts})
    yield dg.MaterializeResult(asset_key="risk_metrics", metadata={
        "dagster/row_count": sum(r.metric_rows for r in reports), **figures.metric_numbers})
    # From the last rebalance before the appended sessions; the whole history when the run is
    # tagged autoindex/index_check=full (services/index_checks.py).
    outcomes = evaluate_index(warehouse.engine, config, {r.strategy: r.first_new_date for r in reports}, as_of=as_of,
                              full_recomputation=context.run.tags.get(FULL_CHECK_TAG) == FULL_CHECK_VALUE)
    outcomes.update({name: o for name, o in evaluate_risk_metrics(warehouse.engine, config).items() if name in RISK_CHECKS})
    for name, asset in CHECK_ASSET.items():
        if name in outcomes:
            yield check_result(outcomes[name], asset, name)
        else:  # nothing computed yet (no eligible asset): nothing to contradict
            yield dg.AssetCheckResult(asset_key=asset, check_name=name, passed=True,
                                      description="no allocations or index rows yet", metadata={"evaluated": 0})
