"""The quality registry in Dagster terms: asset check specs from the rules, and CheckOutcome ->
AssetCheckResult with the evidence in metadata (the expectation or rule, the observed value, the
offending rows as a bounded table plus the count, overridden rows apart)."""

import dagster as dg

from autoindex_pipeline.domain.quality import ERROR, CheckOutcome, rules_for
from autoindex_pipeline.reporting.markdown import offending_markdown


def check_specs(*assets: str, exclude: tuple[str, ...] = ()) -> list[dg.AssetCheckSpec]:
    """The registry's checks of ``assets`` as specs: blocking exactly when they fail at ERROR."""
    return [
        dg.AssetCheckSpec(r.name, asset=r.asset, blocking=r.blocking, description=r.description)
        for r in rules_for(*assets)
        if r.name not in exclude
    ]


def check_result(outcome: CheckOutcome, asset_key: str, check_name: str | None = None, extra: dict | None = None) -> dg.AssetCheckResult:
    meta = outcome.to_metadata()
    metadata = {
        "observed": meta["observed"],
        "threshold": meta["threshold"],
        "evaluated": meta["evaluated"],
        "offending_count": meta["offending_count"],
        "rule": outcome.description,
        "offending_rows": dg.MetadataValue.md(offending_markdown(outcome) if outcome.offending_count else "none"),
        **({"overridden_rows": outcome.details["overridden_rows"]} if "overridden_rows" in outcome.details else {}),
        **_incident(outcome),
        **(extra or {}),
    }
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name or outcome.name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR if outcome.severity == ERROR else dg.AssetCheckSeverity.WARN,
        description=outcome.summary(),
        metadata=metadata,
    )


FIRST_OFFENDING_SESSION = "first_offending_session"
FIRST_OFFENDING_SYMBOLS = "first_offending_symbols"


def _incident(outcome: CheckOutcome) -> dict[str, str]:
    """The earliest offending session and its symbols, as plain metadata the alert sensor reads
    to name the incident (defs/alerts/sensors.py), instead of parsing the Markdown sample."""
    first = None if outcome.passed else outcome.first_offending()
    if first is None:
        return {}
    session, symbols = first
    return {FIRST_OFFENDING_SESSION: session, FIRST_OFFENDING_SYMBOLS: ",".join(symbols)}
