"""Declarative automation for everything downstream of prices.

Why not a fixed 19:00 job (the old Celery beat): the prices run ends whenever the provider
lets it (rate limits, retries, a late print re-fetched by the smart refresh), and a backfill of
an old partition must also propagate. The index and its reports run when their inputs have
updated, after the upstream blocking checks passed, and never while an upstream is still
running.
"""

import dagster as dg

AC = dg.AutomationCondition

# News refreshes every 15 minutes: it is read by the next index update (and a backfill of old
# news days triggers a recompute inside the index builder), but does not by itself start one.
NEWS = dg.AssetSelection.keys("news_articles", "news_sentiment", "sentiment_daily")

INPUTS_UPDATED_AND_CHECKED = (
    (AC.newly_missing() | AC.any_deps_updated().ignore(NEWS)).since_last_handled()
    & ~AC.any_deps_in_progress()
    & ~AC.in_progress()
    & AC.all_deps_blocking_checks_passed()
).with_label("inputs updated and their blocking checks passed")
