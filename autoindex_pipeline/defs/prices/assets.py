"""Daily prices, partitioned by exchange session, fetched in bulk.

A backfill of any range is ONE run (``BackfillPolicy.single_run``): the provider is asked for the
whole range at once and the warehouse write is one transaction, instead of one run, one request
and one commit per day.
"""


import dagster as dg
import pandas as pd
from pydantic import Field

from autoindex_pipeline.defs.progress import FetchProgress, fetch_or_fail
from autoindex_pipeline.defs.quality.results import check_result, check_specs
from autoindex_pipeline.defs.reference.assets import failure_summary, universe_assets
from autoindex_pipeline.defs.resources import ProvidersResource, SettingsResource, WarehouseResource
from autoindex_pipeline.defs.shared import CODE_VERSION, DAILY_FRESHNESS, OWNERS, asset_tags, partition_date_range
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.domain.quality import GX_CHECKS
from autoindex_pipeline.domain.quality.validation import run_validation_rate
from autoindex_pipeline.providers.prices.base import CallStats
from autoindex_pipeline.services.price_checks import evaluate_prices, reconciliation_source
from autoindex_pipeline.services.restatements import prepare_delivery
from autoindex_pipeline.services.screening import screen
from autoindex_pipeline.warehouse import load
from autoindex_pipeline.warehouse.provider_calls import record_run_calls

PRICES_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("symbol", "string", description="Primary key with date"),
        dg.TableColumn("date", "date", description="Exchange session"),
        dg.TableColumn("open", "float"),
        dg.TableColumn("high", "float"),
        dg.TableColumn("low", "float"),
        dg.TableColumn("close", "float", description="Raw close as the provider sent it"),
        dg.TableColumn("volume", "float"),
        dg.TableColumn("adj_close", "float", description="Provider's adjusted close, when it gives one"),
        dg.TableColumn("source", "string", description="Provider name"),
        dg.TableColumn("ingested_at", "timestamp", description="UTC time of the write"),
    ]
)


class PricesRunConfig(dg.Config):
    symbols: list[str] = Field(
        default_factory=list,
        description="Targeted refresh: fetch and replace only these symbols (empty = the whole universe).",
    )


def _rate_or_nan(rate: float | None) -> float:
    return float("nan") if rate is None else rate


def price_check_specs(reconciliation: bool) -> list[dg.AssetCheckSpec]:
    return check_specs("prices", exclude=() if reconciliation else ("reconciliation",))


def build_prices_asset(partitions_def: dg.PartitionsDefinition, reconciliation: bool = False) -> dg.AssetsDefinition:
    @dg.asset(
        name="prices",
        group_name="prices",
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[universe_assets, "corporate_actions"],
        kinds={"sql"},
        metadata={"dagster/column_schema": PRICES_SCHEMA},
        owners=OWNERS,
        tags=asset_tags("prices"),
        code_version=CODE_VERSION,
        freshness_policy=DAILY_FRESHNESS,
        # Provider calls are rate limited: runs that fetch share one concurrency pool.
        pool="provider_prices",
        check_specs=price_check_specs(reconciliation),
    )
    def prices(
        context: dg.AssetExecutionContext,
        config: PricesRunConfig,
        settings: SettingsResource,
        warehouse: WarehouseResource,
        providers: ProvidersResource,
    ) -> dg.MaterializeResult:
        """Daily OHLCV of every universe symbol (benchmark included), raw as the provider sent it.

        A run over sessions S..E replaces exactly the stored rows of the symbols it fetched on
        S..E, in one transaction. A symbol the provider failed on keeps its stored rows and is
        named in the run's metadata and log; if every symbol fails, the run fails and nothing
        is written.
        """
        cfg = settings.config
        start, end = partition_date_range(context)
        universe = cfg.symbols
        symbols = [s.upper() for s in config.symbols] or universe
        unknown = sorted(set(symbols) - set(universe))
        if unknown:
            raise dg.Failure(f"targeted refresh names symbols outside the universe: {', '.join(unknown)}")
        provider = providers.prices()
        context.log.info(f"fetching {len(symbols)} symbols from {provider.name} for {start}..{end}")
        # Recorded even when the fetch fails, so provider_health sees outages that materialize
        # nothing; a fetch that raised counts as one failed call (its attempts are not known).
        calls = CallStats(calls=1, failed=1)
        try:
            with FetchProgress(context.log, f"prices {start}..{end}", len(symbols)) as progress:
                result = fetch_or_fail(lambda: provider.fetch_prices(symbols, start, end, progress=progress), provider.name)
            calls = result.stats
        finally:
            record_run_calls(warehouse.engine, context.run.run_id, "prices", provider.name,
                             calls.calls, calls.succeeded, calls.failed)
        provider_name = provider.name
        # One line in the run's event log (and the JSON logs) that explains a slow or costly run:
        # the calls, their retries and backoff, the client-side rate-limit waits, the credits.
        context.log.info(
            f"{provider_name}: {calls.calls} call(s), {calls.succeeded} ok, {calls.failed} failed, {calls.retried} retried "
            f"({calls.retry_wait_seconds:.1f} s backoff), {calls.rate_limit_waits} rate-limit wait(s) "
            f"({calls.rate_limit_wait_seconds:.1f} s), {calls.credits_used} credit(s) spent"
        )
        split_adjusted = bool(getattr(provider, "split_adjusted", False))
        # A provider may hold caches (the sample provider: generated histories, up to 64 MiB):
        # let them go before the write and the checks, which need memory of their own.
        provider = None  # frees the cache; the name is not used again

        frame = result.frame
        sessions = sessions_between(start, end, cfg.prices.calendar)
        off_calendar = frame[~frame["date"].isin(sessions)]
        if len(off_calendar):
            # A bar on a holiday or weekend is not a session of this index: keep it out of the
            # warehouse, but say so (files from another exchange's calendar do this).
            context.log.warning(
                f"dropped {len(off_calendar)} rows dated outside {cfg.prices.calendar} sessions, e.g. "
                f"{off_calendar.iloc[0]['symbol']} {off_calendar.iloc[0]['date'].date()}"
            )
            frame = frame[frame["date"].isin(sessions)]

        # A split-adjusted provider's bars go back to the raw scale the warehouse stores, with the
        # splits recorded before this run; what the delivery restates is said in the run's log.
        prepared = prepare_delivery(warehouse.engine, frame, split_adjusted=split_adjusted)
        frame = prepared.frame
        for note in prepared.notes():
            context.log.warning(note)

        if result.failures:
            context.log.warning(f"{len(result.failures)} symbols failed: {failure_summary(result.failures)}")
        fetched = sorted(frame["symbol"].unique()) if len(frame) else []
        # A provider that answered every call with "no data for these sessions" (a late print
        # not there yet, a catch-up of a hole) is not a failed run: nothing is written, and
        # the gate and the staleness rule say what is missing. Only calls that failed are.
        answered_empty = result.stats.calls > 0 and result.stats.failed == 0
        if not fetched and len(sessions) and not answered_empty:
            raise dg.Failure(
                description=f"{provider_name} delivered no prices for {start}..{end}; nothing was written",
                metadata={"failures": failure_summary(result.failures), **result.stats.as_metadata()},
            )
        # Check before replacing: what fails a blocking check is refused, never written over
        # what was stored (services/screening.py); refusals land in the same transaction.
        secondary = reconciliation_source(cfg, providers, fetched, start, end) if reconciliation else None
        outcomes, gx_evidence = evaluate_prices(warehouse.engine, cfg, frame, pd.Timestamp(start), pd.Timestamp(end), secondary)
        screened = screen(warehouse.engine, frame, outcomes)
        written = load.replace_prices(
            warehouse.engine, screened.accepted, fetched, start, end, keep=screened.refused_keys,
            in_transaction=lambda conn: screened.record(conn, context.run.run_id),
        )
        context.log.info(f"wrote {written.rows_written} rows for {len(fetched)} symbols (replaced {written.rows_deleted})")
        if len(screened.refused):
            context.log.error(
                f"refused {len(screened.refused)} delivered row(s) that failed a blocking check; the stored rows stay "
                f"as they were: {screened.summary()}"
            )
        failed = [o.summary() for o in outcomes if not o.passed]
        if failed:
            context.log.warning("price checks: " + " | ".join(failed))
        gx_meta = {"great_expectations": dg.MetadataValue.json(gx_evidence)}
        check_results = [
            check_result(o, "prices", extra=gx_meta if o.name in GX_CHECKS else None) for o in outcomes
        ]
        return dg.MaterializeResult(
            check_results=check_results,
            metadata={
                "dagster/row_count": written.rows_written,
                "rows_replaced": written.rows_deleted,
                "rows_refused": len(screened.refused),
                # Rows passing every blocking rule / rows checked (the delivered rows).
                "rows_checked": len(frame),
                "validation_rate": _rate_or_nan(run_validation_rate(len(frame), len(frame) - len(screened.accepted))),
                "refused_rows": dg.MetadataValue.md(
                    screened.refused.loc[:, ["symbol", "date", "close", "checks", "reason"]].head(20).to_markdown(index=False)
                    if len(screened.refused) else "none"
                ),
                "first_session": str(start),
                "last_session": str(end),
                "sessions": len(sessions),
                "symbols_requested": len(symbols),
                "symbols_written": len(fetched),
                "symbols_failed": len(result.failures),
                "failures": failure_summary(result.failures),
                "off_calendar_rows_dropped": len(off_calendar),
                "provider": provider_name,
                **result.stats.as_metadata(),
            }
        )

    return prices
