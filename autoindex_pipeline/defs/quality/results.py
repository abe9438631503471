"""CheckOutcome (domain.quality) -> Dagster AssetCheckResult, with the evidence in metadata:
the expectation or rule, the observed value, and the offending rows (a bounded sample plus the
count) as a table the checks tab shows."""

import dagster as dg

from autoindex_pipeline.domain.quality import CheckOutcome


def check_result(outcome: CheckOutcome, asset_key: str, check_name: str | None = None, extra: dict | None = None) -> dg.AssetCheckResult:
    meta = outcome.to_metadata()
    metadata = {
        "observed": meta["observed"],
        "threshold": meta["threshold"],
        "evaluated": meta["evaluated"],
        "offending_count": meta["offending_count"],
        "rule": outcome.description,
        "offending_rows": dg.MetadataValue.md(outcome.offending_markdown() if outcome.offending_count else "none"),
        **({"overridden_rows": outcome.details["overridden_rows"]} if "overridden_rows" in outcome.details else {}),
        **(extra or {}),
    }
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name or outcome.name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR if outcome.severity == "ERROR" else dg.AssetCheckSeverity.WARN,
        description=outcome.summary(),
        metadata=metadata,
    )
