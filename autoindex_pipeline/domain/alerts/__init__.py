"""Alert rules (methodology section 11), the dedup ledger a sensor keeps in its cursor, and the
retry schedule of the outbox that delivers them.

Pure: no I/O, no clock (``now`` is always a parameter), no Dagster. Each rule returns a list of
:class:`Alert` (empty when nothing is wrong) so a sensor can concatenate the rules' outputs,
pass them through :class:`AlertLedger` and record what is new in the outbox.

Severities are ``info`` < ``warning`` < ``critical``. Every alert carries a **dedup key** that
names the *event*, not the observation: the same event seen by every sensor tick has the same
key and is sent once; a new event (a new date, a new failed run, a new stale spell) has a new
key. Keys are built from the inputs only, never from a clock or a run counter, so they are
stable across processes and restarts:

=====================  ================================================  ==========================
rule                   key                                               one event is
=====================  ================================================  ==========================
daily drop             ``daily_drop:{strategy}:{date}``                  one index session
stale prices           ``stale_prices:{asset}:{expected_session}``       a session not yet loaded
stale news             ``stale_news:{asset}:{newest article time}``      one silent spell of the feed
news inactivity        ``news_inactivity:{asset}:{day}``                 one day (New York date)
failed check           ``check:{asset}:{check}:{sessions}:{run_id}``     a check failing in one run
run failure            ``run_failure:{job}:{run_id}``                    one failed run
provider success       ``provider_success:{provider}:{day}``             one day of a degraded provider
provider outage        ``provider_outage:{provider}:{day}``              one day with a total outage
index held             ``index_held:{strategy}:{first held session}``    one hold of a strategy
=====================  ================================================  ==========================

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
    RunCalls,
    check_failure_alert,
    check_sessions,
    failed_check_alert,
    index_held_alerts,
    provider_health_alerts,
    provider_success_alert,
    run_failure_alert,
    run_outcomes,
    sessions_label,
)

__all__ = [
    "CURSOR_VERSION", "DAILY_DROP_TOLERANCE", "DEAD", "PENDING", "PRICES_DUE_AFTER_CLOSE", "SENT", "SEVERITIES",
    "Alert", "AlertLedger", "RetrySchedule", "RunCalls", "Severity", "at_least", "check_failure_alert",
    "check_sessions", "daily_drop_alerts", "failed_check_alert", "index_held_alerts", "news_inactivity_alert", "prices_stale_alerts",
    "provider_health_alerts", "provider_success_alert", "run_failure_alert", "run_outcomes", "run_url",
    "sessions_label", "severity_rank", "stale_news_alert", "stale_prices_alert",
]
