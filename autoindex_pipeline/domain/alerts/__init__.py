"""Alert rules (methodology section 11), the dedup ledger a sensor keeps in its cursor, and the
retry schedule of the outbox that delivers them.

Pure: no I/O, no clock (``now`` is always a parameter), no Dagster. Each rule returns a list of
:class:`Alert` (empty when nothing is wrong) so a sensor can concatenate the rules' outputs,
pass them through :class:`AlertLedger` and record what is new in the outbox.

Severities are ``info`` < ``warning`` < ``critical``. Every alert carries a **dedup key** that
names the *incident*, not the observation or the run that saw it: the same incident seen by every
sensor tick, by every run that re-fetches the same rows, or by two rules (a refused print and the
index hold it causes) has one key and is sent once; a new incident has a new key. Keys are built
from the inputs only, never from a clock or a run counter, so they are stable across processes and
restarts. What pages is what needs a person: a failed *blocking* check, a provider down or
degraded, stale prices, a held index, a daily drop, a failed run nothing else explains, a quiet
news feed. A check failing at WARN informs (the check's result in the UI, the quality report):
it is not sent.

=====================  ======================================================  ===========================
rule                   key                                                     one incident is
=====================  ======================================================  ===========================
failed blocking check  ``data:{asset}:{first offending session}:{symbols}``    the same bad rows, all runs
                                                                               (nothing dated: one run)
index held             ``data:prices:{first held session}:{symbols}``          the same missing/refused rows
provider outage        ``provider:{provider}:{first run of the outage}``       one spell of a down provider
provider success       ``provider:{provider}:{oldest failing run in window}``  the low rate it leaves behind
stale prices           ``stale_prices:{asset}:{newest stored close}``          one stale spell (or the
                                                                               outage's key when the
                                                                               provider is down)
daily drop             ``daily_drop:{strategy}:{date}``                        one index session
run failure            ``run_failure:{job}:{run_id}``                          a failed run that no failed
                                                                               check or outage explains
stale news             ``stale_news:{asset}:{newest article time}``            one silent spell of the feed
news inactivity        ``news_inactivity:{asset}:{day}``                       one day (New York date)
=====================  ======================================================  ===========================

The ledger also re-sends a known key when it comes back with a *higher* severity (a warning that
became critical is news); the same or a lower severity is suppressed.
"""

from autoindex_pipeline.domain.alerts.ledger import CURSOR_VERSION, AlertLedger
from autoindex_pipeline.domain.alerts.model import SEVERITIES, Alert, Severity, at_least, run_url, severity_rank
from autoindex_pipeline.domain.alerts.outbox import DEAD, PENDING, SENT, RetrySchedule
from autoindex_pipeline.domain.alerts.rules import (
    DAILY_DROP_TOLERANCE,
    PRICES_DUE_AFTER_CLOSE,
    daily_drop_alerts,
    news_inactivity_alert,
    prices_stale_alerts,
    stale_news_alert,
    stale_prices_alert,
)
from autoindex_pipeline.domain.alerts.runs import (
    FailedCheck,
    RunCalls,
    check_incident_alerts,
    check_sessions,
    incident_key,
    index_held_alerts,
    outage_start,
    provider_health_alerts,
    provider_incident_key,
    provider_success_alert,
    run_failure_alert,
    run_outcomes,
    sessions_label,
)

__all__ = [
    "CURSOR_VERSION", "DAILY_DROP_TOLERANCE", "DEAD", "PENDING", "PRICES_DUE_AFTER_CLOSE", "SENT", "SEVERITIES",
    "Alert", "AlertLedger", "FailedCheck", "RetrySchedule", "RunCalls", "Severity", "at_least",
    "check_incident_alerts", "check_sessions", "daily_drop_alerts", "incident_key", "index_held_alerts",
    "news_inactivity_alert", "outage_start", "prices_stale_alerts", "provider_health_alerts", "provider_incident_key",
    "provider_success_alert", "run_failure_alert", "run_outcomes", "run_url",
    "sessions_label", "severity_rank", "stale_news_alert", "stale_prices_alert",
]
