"""The monthly cross-source spot check (seed 001: "monthly spot-check against a second
source, 0.2 %"): `reconciliation_job` compares `quality.reconciliation_sample` stored closes of
the previous calendar month with `quality.reconciliation_provider`. A mismatch fails the run,
naming the closes (the run-failure alert carries it). The per-run check on `prices` stays
available with `quality.reconciliation_every_run: true`."""

import datetime as dt

import dagster as dg
from pydantic import Field

from autoindex_pipeline.defs.resources import ProvidersResource, SettingsResource, WarehouseResource
from autoindex_pipeline.reporting.markdown import offending_markdown
from autoindex_pipeline.services.reconciliation import ReconciliationError, parse_month, previous_month, reconcile_month


class ReconciliationConfig(dg.Config):
    month: str | None = Field(default=None, description="YYYY-MM to reconcile; empty = the previous calendar month.")


@dg.op(description="Compare a sample of the stored closes of one month with the second source (within 0.2%).")
def reconcile_prices(context: dg.OpExecutionContext, config: ReconciliationConfig, settings: SettingsResource,
                     warehouse: WarehouseResource, providers: ProvidersResource) -> dg.Output:
    cfg = settings.config
    start, end = parse_month(config.month) if config.month else previous_month(dt.datetime.now(dt.UTC).date())
    try:
        result = reconcile_month(warehouse.engine, cfg, providers, start, end)
    except ReconciliationError as exc:
        raise dg.Failure(description=str(exc)) from None
    o = result.outcome
    metadata = {
        "month": f"{start:%Y-%m}",
        "second_source": cfg.quality.reconciliation_provider,
        "sample_size": result.sample_size,
        "symbols_requested": len(result.symbols),
        "compared": int(o.details.get("compared", o.evaluated)),
        "not_in_second_source": int(o.details.get("not_in_secondary", 0)),
        "mismatches": o.offending_count,
        "max_relative_difference": float(o.details.get("max_relative_difference", float("nan"))),
        "offending_rows": dg.MetadataValue.md(offending_markdown(o) if o.offending_count else "none"),
    }
    context.log.info(o.summary())
    if not o.passed:
        raise dg.Failure(description=f"reconciliation {start:%Y-%m}: {o.summary()}", metadata=metadata)
    return dg.Output(None, metadata=metadata)


@dg.job(description="Monthly cross-source spot check of the stored closes (quality.reconciliation_sample closes).")
def reconciliation_job():
    reconcile_prices()
