"""Rules on runs and their evidence: failed checks, failed runs, provider health, a held index."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from autoindex_pipeline.domain.alerts.model import Alert, Severity

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


def incident_key(asset: str, session: str | None, symbols: Sequence[str] = ()) -> str:
    """The key of a data incident: the asset whose data is wrong, the earliest session affected
    and the symbols affected on it. Every alert about the same bad or missing rows (the checks
    of every run that re-fetches them, the index hold they cause) carries this key, so the
    incident is sent once however many runs see it."""
    names = "+".join(sorted({s for s in symbols if s})) or "all"
    return f"data:{asset}:{session or 'undated'}:{names}"


@dataclass(frozen=True)
class FailedCheck:
    """One failed check evaluation of a run, as the alert rules need it."""

    asset: str
    check: str
    severity: str  # the check's own: "ERROR" or "WARN"
    blocking: bool
    description: str
    first_session: str | None = None  # the earliest offending session, when the rows are dated
    symbols: tuple[str, ...] = ()  # the symbols offending on it
    sessions: tuple[str, str] | None = None  # what the run checked (its partition or range)
    warning_pages: bool = False  # the registry's ``pages``: this WARN check is sent as a warning

    @property
    def stops(self) -> bool:
        return self.blocking and self.severity.upper() == "ERROR"

    @property
    def pages(self) -> bool:
        """A blocking check failing at ERROR stops the index: a person must act (critical). A
        warning informs, in the check's result in the UI and in the quality report, unless the
        registry says it pages (the validation rate under 95 %); the other conditions that need
        a person have a rule of their own (stale prices, a held index, a daily drop, a quiet
        news feed)."""
        return self.stops or self.warning_pages


def check_incident_alerts(failed: Iterable[FailedCheck], run_id: str) -> list[Alert]:
    """Alerts for the failed checks of one run that page (:attr:`FailedCheck.pages`): one per data incident
    (asset, earliest offending session, symbols on it), naming every check that failed on it.

    Keyed by :func:`incident_key`, never by run: the catch-up re-fetches a refused row on every
    tick (that is how a provider's correction heals the index), and each of those runs fails
    the same checks on the same rows; that is one incident, sent once. Rows with no date
    (a table-level check) fall back to the sessions the run checked; with neither (an
    unpartitioned asset), nothing names the incident but the run, so each run is its own."""
    groups: dict[str, list[FailedCheck]] = {}
    for f in failed:
        if f.pages:
            session = f.first_session or (f.sessions[0] if f.sessions else None)
            key = (incident_key(f.asset, session, f.symbols if f.first_session else ()) if session
                   else f"data:{f.asset}:undated:{run_id}")
            groups.setdefault(key, []).append(f)
    alerts = []
    for key, checks in groups.items():
        head = checks[0]
        critical = any(c.stops for c in checks)
        session = head.first_session or (head.sessions[0] if head.sessions else None)
        names = ", ".join(dict.fromkeys(c.check for c in checks))
        who = f" {', '.join(head.symbols)}" if head.first_session and head.symbols else ""
        where = f" on {session}" if session else ""
        details = "; ".join(f"{c.check}: {c.description}" for c in checks)
        alerts.append(
            Alert(
                kind="failed_check",
                severity="critical" if critical else "warning",
                dedup_key=key,
                title=f"'{head.asset}'{who}{where} failed {names}",
                message=(
                    f"Blocking check(s) {names} on '{head.asset}' failed in run {run_id} for{who}{where or ' the run'}; "
                    f"the rows are refused or held until a re-fetch passes or an audited override: {details}"
                    if critical else
                    f"Check(s) {names} on '{head.asset}' warned in run {run_id} for{who}{where or ' the run'}: {details}"
                ),
                asset=head.asset,
                partition=session,
                figure=f"{len(checks)} check(s)",
                run_id=run_id,
            )
        )
    return alerts


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


@dataclass(frozen=True)
class RunCalls:
    """The provider calls one run made (every attempt counted), as the run recorded them."""

    run_id: str
    calls: int
    succeeded: int

    @property
    def total_failure(self) -> bool:
        return self.calls > 0 and self.succeeded <= 0


def _window_runs(runs: Iterable[RunCalls], window: int) -> list[RunCalls]:
    """The runs (newest first, each once, those with calls) making up the newest ``window`` calls."""
    seen: set[str] = set()
    out: list[RunCalls] = []
    total = 0
    for run in runs:
        if run.run_id in seen or run.calls <= 0:
            continue
        seen.add(run.run_id)
        out.append(run)
        total += run.calls
        if total >= window:
            break
    return out


def run_outcomes(runs: Iterable[RunCalls], window: int = 100) -> list[bool]:
    """The outcomes of the newest ``window`` calls, oldest first, from runs given newest first.

    Each run counts once (a run that materialized 20 partitions made its calls once), and a
    run's calls are taken as its successes then its failures: the order inside a run is not
    recorded.
    """
    out: list[bool] = []
    for run in _window_runs(runs, window):
        ok = max(0, min(run.succeeded, run.calls))
        out = [True] * ok + [False] * (run.calls - ok) + out
    return out[-window:]


def outage_start(runs: Sequence[RunCalls]) -> str | None:
    """While the provider is down (the newest run with calls had no success), the run that
    began the outage: the oldest of the unbroken streak of such runs. None when it is up."""
    start = None
    for run in runs:
        if run.calls <= 0:
            continue
        if not run.total_failure:
            break
        start = run.run_id
    return start


def provider_incident_key(provider: str, since_run: str | None) -> str:
    """One spell of a degraded or down provider, named by its first failing run: the outage,
    the low success rate its failed calls leave in the 100-call window afterwards, the
    staleness and failed runs it causes are one incident."""
    return f"provider:{provider}:{since_run or 'current'}"


def provider_success_alert(
    outcomes: Sequence[bool] | Iterable[bool],
    provider: str,
    threshold: float = 0.95,
    window: int = 100,
    *,
    critical_threshold: float = 0.80,
    min_calls: int = 20,
    since_run: str | None = None,
) -> list[Alert]:
    """The provider's success rate over its last ``window`` calls (oldest first in
    ``outcomes``; True = succeeded) is below ``threshold`` (95%): warning; below
    ``critical_threshold``: critical. Exactly 95% is fine. Fewer than ``min_calls`` calls say
    too little (one failed first call is not a 0% provider) and give no alert. ``since_run``
    (the oldest run with a failed call in the window) names the spell: it is one alert until
    those failures leave the window, re-sent only if it escalates to critical."""
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
    return [
        Alert(
            kind="provider_success",
            severity=severity,
            dedup_key=provider_incident_key(provider, since_run),
            title=f"Provider '{provider}' success rate {rate:.0%}",
            message=(
                f"{ok} of the last {n} calls to '{provider}' succeeded ({rate:.1%}), below the "
                f"{threshold:.0%} target."
            ),
            asset=provider,
            figure=f"{rate:.1%} ({ok}/{n})",
        )
    ]


def provider_health_alerts(
    runs: Sequence[RunCalls],
    provider: str,
    *,
    threshold: float = 0.95,
    window: int = 100,
    critical_threshold: float = 0.80,
    min_calls: int = 20,
) -> list[Alert]:
    """Provider health from the runs' own call counts (``runs`` newest first, failed runs
    included): a total outage (the newest run with calls had no success at all) is critical
    whatever the number of calls (10 of 10 failed is not "too few calls to judge"); otherwise
    :func:`provider_success_alert` over the last ``window`` calls. Both are keyed by the spell's
    first failing run (:func:`provider_incident_key`), so an outage and the low rate it leaves
    behind are one alert, and a later outage, with its own first run, is a new one."""
    down_since = outage_start(runs)
    if down_since is not None:
        latest = next(r for r in runs if r.calls > 0)
        return [
            Alert(
                kind="provider_outage",
                severity="critical",
                dedup_key=provider_incident_key(provider, down_since),
                title=f"Provider '{provider}' is down: every call failed",
                message=(
                    f"All {latest.calls} calls to '{provider}' in run {latest.run_id} failed; nothing was fetched. "
                    f"Down since run {down_since}; the catch-up schedule fills the gap once it answers again."
                ),
                asset=provider,
                figure=f"0/{latest.calls} calls",
                run_id=latest.run_id,
            )
        ]
    in_window = _window_runs(runs, window)
    failing = [r for r in in_window if r.succeeded < r.calls]
    since = failing[-1].run_id if failing else None
    return provider_success_alert(
        run_outcomes(runs, window), provider, threshold, window,
        critical_threshold=critical_threshold, min_calls=min_calls, since_run=since,
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
    """A warning per hold: the index stopped before a session that is not complete
    (services/gate.py) and resumes by itself once it is.

    The hold is a consequence of the prices, so it is keyed as the prices incident it comes
    from (:func:`incident_key` of the first held session and the symbols whose closes it waits
    for, metadata ``held_symbols``): a refused print already sent as a failed check is not sent
    again as a hold, a late symbol is one alert, and strategies held at the same session share
    it. A strategy held from a later session than the earliest (its symbols are not in the
    metadata) gets ``index_held:{strategy}:{session}``. A hold lasting several runs is one alert."""
    reason = metadata.get("held_reason")
    earliest = str(metadata.get("held_from") or "")
    symbols = [s for s in str(metadata.get("held_symbols") or "").split(",") if s]
    held: dict[str, tuple[str, list[str]]] = {}
    for name, value in sorted(metadata.items()):
        if not name.endswith(HELD_FROM_SUFFIX) or name == HELD_FROM_SUFFIX.strip():
            continue
        strategy, session = name[: -len(HELD_FROM_SUFFIX)], str(value)
        key = (incident_key("prices", session, symbols) if session == earliest and symbols
               else f"index_held:{strategy}:{session}")
        held.setdefault(key, (session, []))[1].append(strategy)
    alerts = []
    for key, (session, strategies) in held.items():
        names = ", ".join(f"'{s}'" for s in strategies)
        waits = f" for the close(s) of {', '.join(symbols)}" if key.startswith("data:") else ""
        alerts.append(
            Alert(
                kind="index_held",
                severity="warning",
                dedup_key=key,
                title=f"Index {names} held before {session}",
                message=(
                    f"Index {names} stops before {session}{waits}: that session is not complete"
                    + (f" ({reason})." if reason else ".")
                    + " It resumes by itself once the closes arrive or are accounted for."
                ),
                asset=asset,
                partition=session,
                figure=f"held from {session}",
                run_id=run_id,
            )
        )
    return alerts
