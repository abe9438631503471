"""Rules on runs and their evidence: failed checks, failed runs, provider health, a held index."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from autoindex_pipeline.domain.alerts.model import Alert, Severity, day_of


def failed_check_alert(
    asset: str,
    check_name: str,
    partition: str | None,
    run_id: str | None,
    description: str,
    *,
    blocking: bool = True,
    figure: str | None = None,
    run_url: str | None = None,
) -> list[Alert]:
    """A failed asset check: critical when it is blocking (downstream assets stop), warning
    otherwise. One event per (asset, check, partition); for an unpartitioned asset pass the
    data's as-of date as ``partition`` so tomorrow's failure is a new event."""
    part = partition or "all"
    kind = "blocking" if blocking else "non-blocking"
    where = f" for partition {partition}" if partition else ""
    return [
        Alert(
            kind="failed_check",
            severity="critical" if blocking else "warning",
            dedup_key=f"check:{asset}:{check_name}:{part}",
            title=f"Check '{check_name}' failed on '{asset}'{where}",
            message=f"The {kind} check '{check_name}' on '{asset}'{where} failed: {description}",
            asset=asset,
            partition=partition,
            figure=figure,
            run_url=run_url,
            run_id=run_id,
        )
    ]


PARTITION_TAG = "dagster/partition"
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"
_ISO_DATE = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")


def check_sessions(
    partition: str | None,
    run_tags: Mapping[str, str] | None = None,
    evidence: Iterable[str] = (),
) -> tuple[str, str] | None:
    """The first and last session a check result is about.

    In order: the result's own partition; the run's partition, or its partition range (a
    single-run backfill checks the whole range at once and its results carry no partition);
    the first and last ISO date in the evidence (the offending rows of an unpartitioned asset).
    None when nothing names a date. Never the clock: the alert must name the data's sessions,
    not the day the sensor saw the result.
    """
    if partition:
        return partition, partition
    tags = run_tags or {}
    start, end = tags.get(PARTITION_RANGE_START_TAG), tags.get(PARTITION_RANGE_END_TAG)
    if start and end:
        return start, end
    if tags.get(PARTITION_TAG):
        return tags[PARTITION_TAG], tags[PARTITION_TAG]
    dates = sorted({d for text in evidence for d in _ISO_DATE.findall(text or "")})
    return (dates[0], dates[-1]) if dates else None


def sessions_label(sessions: tuple[str, str] | None) -> str:
    """``2025-06-02``, ``2025-06-02..2025-06-06``, or ``undated``."""
    if sessions is None:
        return "undated"
    first, last = sessions
    return first if first == last else f"{first}..{last}"


def check_failure_alert(
    asset: str,
    check_name: str,
    *,
    check_severity: str,
    blocking: bool,
    sessions: tuple[str, str] | None,
    run_id: str,
    description: str,
    figure: str | None = None,
) -> list[Alert]:
    """A failed asset check at the check's own severity: ``ERROR`` on a blocking check (it stops
    downstream) is critical; ``WARN``, or a check that blocks nothing, is a warning.

    One event per (asset, check, sessions, run), keyed
    ``check:{asset}:{check}:{sessions}:{run_id}``: a re-run that fails again is a new event
    with its own run link, and the same result seen again after a daemon restart has the same
    key.
    """
    critical = check_severity.upper() == "ERROR" and blocking
    label = sessions_label(sessions)
    where = "" if sessions is None else f" for {label}"
    kind = "blocking" if blocking else "non-blocking"
    return [
        Alert(
            kind="failed_check",
            severity="critical" if critical else "warning",
            dedup_key=f"check:{asset}:{check_name}:{label}:{run_id}",
            title=f"Check '{check_name}' failed on '{asset}'{where}",
            message=(
                f"The {kind} check '{check_name}' ({check_severity.upper()}) on '{asset}'{where} failed "
                f"in run {run_id}: {description}"
            ),
            asset=asset,
            partition=None if sessions is None else label,
            figure=figure,
            run_id=run_id,
        )
    ]


def run_failure_alert(
    job: str,
    run_id: str,
    error: str | None,
    *,
    partition: str | None = None,
    severity: Severity = "critical",
    run_url: str | None = None,
    max_error_chars: int = 500,
) -> list[Alert]:
    """A failed run. Every run is its own event (a retry is a new run id). The error text is
    cut to ``max_error_chars``; pass it redacted (it is sent as is)."""
    text = (error or "no error message").strip()
    if len(text) > max_error_chars:
        text = text[: max_error_chars - 1].rstrip() + "…"
    where = f" (partition {partition})" if partition else ""
    return [
        Alert(
            kind="run_failure",
            severity=severity,
            dedup_key=f"run_failure:{job}:{run_id}",
            title=f"Run of '{job}' failed{where}",
            message=f"Run {run_id} of job '{job}'{where} failed: {text}",
            asset=job,
            partition=partition,
            figure="failed",
            run_url=run_url,
            run_id=run_id,
        )
    ]


def provider_success_alert(
    outcomes: Sequence[bool] | Iterable[bool],
    provider: str,
    threshold: float = 0.95,
    window: int = 100,
    *,
    critical_threshold: float = 0.80,
    min_calls: int = 20,
    day: dt.date | str | None = None,
) -> list[Alert]:
    """The provider's success rate over its last ``window`` calls (oldest first in
    ``outcomes``; True = succeeded) is below ``threshold`` (95%): warning; below
    ``critical_threshold``: critical. Exactly 95% is fine. Fewer than ``min_calls`` calls say
    too little (one failed first call is not a 0% provider) and give no alert. Pass ``day``
    (the New York date) so a degradation that lasts reminds once a day."""
    if window <= 0:
        raise ValueError("window must be positive")
    recent = [bool(x) for x in list(outcomes)[-window:]]
    n = len(recent)
    if n < min_calls or n == 0:
        return []
    ok = sum(recent)
    rate = ok / n
    if rate >= threshold:
        return []
    severity: Severity = "critical" if rate < critical_threshold else "warning"
    when = "current" if day is None else day_of(day).isoformat()
    return [
        Alert(
            kind="provider_success",
            severity=severity,
            dedup_key=f"provider_success:{provider}:{when}",
            title=f"Provider '{provider}' success rate {rate:.0%}",
            message=(
                f"{ok} of the last {n} calls to '{provider}' succeeded ({rate:.1%}), below the "
                f"{threshold:.0%} target."
            ),
            asset=provider,
            partition=None if day is None else when,
            figure=f"{rate:.1%} ({ok}/{n})",
        )
    ]




@dataclass(frozen=True)
class RunCalls:
    """The provider calls one run made (every attempt counted), as the run recorded them."""

    run_id: str
    calls: int
    succeeded: int


def run_outcomes(runs: Iterable[RunCalls], window: int = 100) -> list[bool]:
    """The outcomes of the newest ``window`` calls, oldest first, from runs given newest first.

    Each run counts once (a run that materialized 20 partitions made its calls once), and a
    run's calls are taken as its successes then its failures: the order inside a run is not
    recorded.
    """
    seen: set[str] = set()
    out: list[bool] = []
    for run in runs:
        if run.run_id in seen or run.calls <= 0:
            continue
        seen.add(run.run_id)
        ok = max(0, min(run.succeeded, run.calls))
        out = [True] * ok + [False] * (run.calls - ok) + out
        if len(out) >= window:
            break
    return out[-window:]


def provider_health_alerts(
    runs: Sequence[RunCalls],
    provider: str,
    *,
    threshold: float = 0.95,
    window: int = 100,
    critical_threshold: float = 0.80,
    min_calls: int = 20,
    day: dt.date | str | None = None,
) -> list[Alert]:
    """Provider health from the runs' own call counts (``runs`` newest first, failed runs
    included): :func:`provider_success_alert` over the last ``window`` calls, and a total
    outage, the newest run with calls having had no success at all, is critical whatever the
    number of calls (a run that failed 10 of 10 calls is not "too few calls to judge")."""
    latest = next((r for r in runs if r.calls > 0), None)
    when = "current" if day is None else day_of(day).isoformat()
    if latest is not None and latest.succeeded <= 0:
        return [
            Alert(
                kind="provider_outage",
                severity="critical",
                dedup_key=f"provider_outage:{provider}:{when}",
                title=f"Provider '{provider}' is down: every call failed",
                message=(
                    f"All {latest.calls} calls to '{provider}' in run {latest.run_id} failed; nothing was fetched."
                ),
                asset=provider,
                partition=None if day is None else when,
                figure=f"0/{latest.calls} calls",
                run_id=latest.run_id,
            )
        ]
    return provider_success_alert(
        run_outcomes(runs, window), provider, threshold, window,
        critical_threshold=critical_threshold, min_calls=min_calls, day=day,
    )


HELD_FROM_SUFFIX = " held_from"
"""The index materialization names each held strategy's first waiting session as metadata
``"{strategy} held_from"`` (and the earliest of them as ``held_from``, the reasons as
``held_reason``)."""


def index_held_alerts(
    metadata: Mapping[str, object],
    *,
    run_id: str | None = None,
    asset: str = "index_values",
) -> list[Alert]:
    """A warning per held strategy: the index stopped before a session that is not complete
    (services/gate.py) and resumes by itself once it is. One event per (strategy, first held
    session), keyed ``index_held:{strategy}:{session}``: a hold that lasts several runs is one
    alert, a later hold is a new one."""
    reason = metadata.get("held_reason")
    alerts = []
    for name, value in sorted(metadata.items()):
        if not name.endswith(HELD_FROM_SUFFIX) or name == HELD_FROM_SUFFIX.strip():
            continue
        strategy, session = name[: -len(HELD_FROM_SUFFIX)], str(value)
        alerts.append(
            Alert(
                kind="index_held",
                severity="warning",
                dedup_key=f"index_held:{strategy}:{session}",
                title=f"Index '{strategy}' held before {session}",
                message=(
                    f"The '{strategy}' index stops before {session}: that session is not complete"
                    + (f" ({reason})." if reason else ".")
                ),
                asset=asset,
                partition=session,
                figure=f"held from {session}",
                run_id=run_id,
            )
        )
    return alerts
