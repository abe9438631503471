"""The operations calendar: recurring maintenance, as data. Pure; no Dagster.

The seed systems (``/work/shared/seeds``, files 000-004) run their upkeep as cron scripts,
Celery beat entries and checklists a person works through. Here each recurring task is one
:class:`OpsTask` with a cadence, a cron expression in America/New_York (the exchange's time
zone, so "after the close" stays right across daylight-saving changes), what does the work in
this package, and which seed operations it replaces. The Dagster layer turns every task into a
schedule (``kind`` ``job`` / ``report``) or a reminder alert with a generated checklist
(``review``).

Timing follows the pipeline's own schedules (seed 000): prices at 18:00 and the index at 19:00
on weekdays, so the daily reports run at 19:30-19:45, after both; heavy maintenance runs at
night or at the weekend; monthly tasks on the 1st for the month just ended. Daily session tasks
use ``1-5`` (weekdays) and must skip exchange holidays themselves (``domain.calendar.is_session``):
cron knows weekends, not holidays.

Seed operations that are not calendar work (alerts, pipeline schedules, things that do not exist
here such as Redis or certificates) are listed in :data:`NOT_ON_CALENDAR` with what handles them.
Cron note: Dagster (like Vixie cron) ORs day-of-month and day-of-week when both are set, so no
expression here sets both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TIMEZONE = "America/New_York"
Cadence = Literal["daily", "weekly", "monthly", "quarterly"]
CADENCES: tuple[str, ...] = ("daily", "weekly", "monthly", "quarterly")
TaskKind = Literal["job", "report", "review"]
"""``job``: runs unattended and fails loudly (run-failure alert); ``report``: produces a report
(and alerts on what it finds); ``review``: a person acts on a checklist the task generates."""

SEEDS = {
    "000": "Waardhaven AutoIndex operations guide",
    "001": "Market data API on TimescaleDB operations guide",
    "002": "Company information extraction API operations guide",
    "003": "24/7 trading system operations guide",
    "004": "StratMaster operations guide",
}


@dataclass(frozen=True)
class SeedRef:
    """One operation in a seed document: its file number and its wording, shortened."""

    seed: str
    item: str

    def __str__(self) -> str:
        return f"{self.seed}: {self.item}"


@dataclass(frozen=True)
class OpsTask:
    name: str
    cadence: Cadence
    cron: str
    kind: TaskKind
    title: str
    description: str
    uses: str
    """What does the work (a function of this package, an asset, a check)."""
    replaces: tuple[SeedRef, ...]
    timezone: str = TIMEZONE


@dataclass(frozen=True)
class NotOnCalendar:
    """A seed operation handled by something other than a calendar task."""

    ref: SeedRef
    handled_by: str


def _refs(*pairs: tuple[str, str]) -> tuple[SeedRef, ...]:
    return tuple(SeedRef(seed, item) for seed, item in pairs)


OPERATIONS_CALENDAR: tuple[OpsTask, ...] = (
    # ---------------------------------------------------------------------------- daily
    OpsTask(
        name="warehouse_backup",
        cadence="daily",
        cron="0 1 * * *",
        kind="job",
        title="Nightly warehouse backup",
        description=(
            "pg_dump --format=custom of the warehouse into the backup folder, then delete dumps older "
            "than 30 days. The dump size goes to the run metadata (a sudden drop is visible); a failed "
            "dump is a failed run and raises the run-failure alert, which replaces checking by hand "
            "that last night's file exists."
        ),
        uses="ops.backup.dump_database + ops.backup.prune_dumps(keep_days=30)",
        replaces=_refs(
            ("000", "Daily operations: pg_dump $DATABASE_URL > backups/<date>_backup.sql"),
            ("000", "scripts/backup.sh and the automated backup script (gzip, gunzip -t check, 30-day retention)"),
            ("001", "Weekly backup verification (Monday): the Sunday backup file exists and its size is reasonable"),
            ("004", "Daily backup verification"),
            ("004", "Weekly full backup"),
        ),
    ),
    OpsTask(
        name="news_retention",
        cadence="daily",
        cron="30 1 * * *",
        kind="job",
        title="Archive old news",
        description=(
            "Move news_articles (and their news_sentiment rows) older than news_retention_days (90) "
            "to the archive tables in one transaction; never delete (methodology section 9). Row "
            "counts moved go to the run metadata."
        ),
        uses="news retention asset / job (defs/news)",
        replaces=_refs(("000", "Data cleanup: python -m app.utils.archive_old_news --days 90")),
    ),
    OpsTask(
        name="daily_quality_report",
        cadence="daily",
        cron="30 19 * * 1-5",
        kind="report",
        title="Daily data-quality report",
        description=(
            "After the 18:00 prices and 19:00 index runs: the per-symbol quality grid (green > 0.95, "
            "yellow 0.85-0.95, red < 0.85), completeness, validity, outliers, probable splits, staleness "
            "of prices and news, index validation (recompute within 1e-9) and the portfolio quality "
            "score (>= 0.9 or downstream assets stop). Sessions only."
        ),
        uses="quality asset checks' results + ops.notify (report and alerts on failures)",
        replaces=_refs(
            ("000", "Daily operations: python -m app.diagnostics.data_quality_check"),
            ("000", "Data quality scripts: assess_data_quality, fix_missing_prices, detect_outliers, validate_index_calculations"),
            ("001", "Morning health check: validation rate > 95%, latest data is the recent trading date"),
            ("001", "Check dashboard: health badge, validation rate, staleness, symbol quality grid"),
            ("003", "Daily morning checklist: health, recent errors"),
            ("004", "Daily tasks: health checks and monitoring, log analysis"),
        ),
    ),
    OpsTask(
        name="daily_performance_report",
        cadence="daily",
        cron="45 19 * * 1-5",
        kind="report",
        title="Daily performance report",
        description=(
            "The session's index and benchmark returns, month / year to date and since inception, "
            "contributors and drift, with the chart; Sharpe-type ratios are n/a for one day (they "
            "need 20 returns). Sessions only."
        ),
        uses="ops.performance.period_report(period='daily') + render_chart_png + render_html",
        replaces=_refs(
            ("003", "Daily evening checklist: daily performance summary (performance?period=daily)"),
            ("003", "Daily evening checklist: strategy performance (win rate, total P&L)"),
        ),
    ),
    OpsTask(
        name="analyze_warehouse",
        cadence="daily",
        cron="0 20 * * 1-5",
        kind="job",
        title="Refresh planner statistics",
        description=(
            "ANALYZE the tables written by the evening runs (prices, market_cap_data, allocations, "
            "index_values, risk_metrics, news tables). Autovacuum would not re-analyse a large prices "
            "table for one day of rows, and queries for the newest dates then misestimate. Sessions only."
        ),
        uses="warehouse maintenance job (ANALYZE)",
        replaces=_refs(("000", "Daily operations: python -m app.utils.analyze_tables (update table statistics)")),
    ),
    # ---------------------------------------------------------------------------- weekly
    OpsTask(
        name="weekly_performance_report",
        cadence="weekly",
        cron="0 8 * * 6",
        kind="report",
        title="Weekly performance report",
        description=(
            "The ISO week just ended (Saturday morning, so a holiday Friday is covered): total return, "
            "max drawdown, win rate, best / worst day, turnover, contributors and allocation changes, "
            "against the benchmark."
        ),
        uses="ops.performance.period_report(period='weekly')",
        replaces=_refs(
            ("003", "Weekly maintenance: weekly performance analysis (total_return, win_rate, total_trades, sharpe_ratio)"),
        ),
    ),
    OpsTask(
        name="vacuum_analyze_warehouse",
        cadence="weekly",
        cron="0 3 * * 0",
        kind="job",
        title="Weekly VACUUM (ANALYZE)",
        description=(
            "VACUUM (ANALYZE) every warehouse table in the Sunday-night window, then record table and "
            "index sizes and dead-tuple ratios (bloat) in the run metadata."
        ),
        uses="warehouse maintenance job (VACUUM (ANALYZE) + pg_stat_user_tables)",
        replaces=_refs(
            ("004", "Weekly maintenance window: ANALYZE; VACUUM (ANALYZE) large tables; check for bloated tables"),
            ("004", "Weekly tasks: database maintenance"),
            ("001", "Monthly database optimization: ANALYZE (REINDEX only if degraded: see warehouse_performance_review)"),
        ),
    ),
    OpsTask(
        name="capacity_report",
        cadence="weekly",
        cron="30 3 * * 0",
        kind="report",
        title="Capacity and growth",
        description=(
            "Database and per-table sizes with their week-on-week growth, the size of the latest dump, "
            "and free space where backups and Dagster storage live (warning below 20% free). The "
            "series is kept, so growth is a trend rather than a snapshot."
        ),
        uses="warehouse maintenance job (pg_database_size, pg_total_relation_size, shutil.disk_usage)",
        replaces=_refs(
            ("001", "Weekly disk space check: alert if < 20% free on the system or backup drive"),
            ("001", "Quarterly performance review: database size growth"),
            ("004", "Monthly capacity planning report: storage growth, database size trends"),
            ("004", "Weekly tasks: capacity planning review"),
        ),
    ),
    # ---------------------------------------------------------------------------- monthly
    OpsTask(
        name="backup_restore_test",
        cadence="monthly",
        cron="0 4 1 * *",
        kind="job",
        title="Backup and restore test",
        description=(
            "Dump the warehouse, restore it into a scratch database, compare row counts and checksums "
            "of every table, drop the scratch database. A mismatch fails the check and raises a "
            "critical alert; the restore duration is the measured recovery time."
        ),
        uses="ops.backup.backup_and_verify",
        replaces=_refs(
            ("001", "Monthly test restore from backup: createdb market_data_test, restore, SELECT COUNT(*), dropdb"),
            ("001", "Best practice: keep backups verified (monthly restore test)"),
            ("004", "Monthly tasks: full system backup test"),
            ("004", "Monthly tasks: disaster recovery drill (the database part)"),
        ),
    ),
    OpsTask(
        name="dagster_storage_retention",
        cadence="monthly",
        cron="0 5 1 * *",
        kind="job",
        title="Prune old runs and logs",
        description=(
            "Delete Dagster runs, their event logs and compute logs older than the retention (e.g. "
            "90 days; failed runs 180) and report files older than a year, so run storage does not "
            "grow without bound."
        ),
        uses="Dagster instance (delete_run) in a maintenance job",
        replaces=_refs(
            ("000", "Data cleanup: python -m app.utils.cleanup_failed_tasks --days 3"),
            ("003", "Daily evening maintenance: clean old logs (keep 30 days)"),
        ),
    ),
    OpsTask(
        name="cross_source_reconciliation",
        cadence="monthly",
        cron="0 6 1 * *",
        kind="job",
        title="Cross-source price spot-check",
        description=(
            "For a random sample of symbols and 3-5 sessions of the month just ended, fetch the close "
            "from a second source and compare: a difference above 0.2% fails (methodology section 10); "
            "above 1% names the symbol for investigation."
        ),
        uses="reconciliation asset check with a second price provider",
        replaces=_refs(("001", "Monthly data quality spot-check against Yahoo Finance: match within 0.2%, investigate > 1%")),
    ),
    OpsTask(
        name="monthly_performance_report",
        cadence="monthly",
        cron="0 7 1 * *",
        kind="report",
        title="Monthly performance report",
        description=(
            "The month just ended: total return, CAGR, volatility, Sharpe, Sortino, max drawdown, win "
            "rate, best / worst day, turnover, contributors and allocation changes, against the "
            "benchmark (ratios shown when the month has at least 20 returns)."
        ),
        uses="ops.performance.period_report(period='monthly')",
        replaces=_refs(
            ("003", "Monthly performance review: total_return, total_trades, win_rate, profit_factor, max_drawdown, sharpe_ratio"),
            ("003", "Cron: monthly report on the 1st at 01:00"),
        ),
    ),
    OpsTask(
        name="split_and_gap_review",
        cadence="monthly",
        cron="30 7 1 * *",
        kind="review",
        title="Splits, gaps and outliers of the month",
        description=(
            "A checklist of the month's probable splits (50%+ overnight moves near 2:1, 3:1, 3:2, 1:2), "
            "outliers and gaps flagged by the quality checks, for a person to confirm or correct "
            "(re-fetch, adjust, or accept)."
        ),
        uses="quality checks' findings (split / outlier / completeness)",
        replaces=_refs(("001", "Monthly gap anomaly review: gap_detected records (splits show 50%+ gaps, halts, corruption)")),
    ),
    # ---------------------------------------------------------------------------- quarterly
    OpsTask(
        name="recovery_drill",
        cadence="quarterly",
        cron="0 5 2 1,4,7,10 *",
        kind="review",
        title="Recovery drill",
        description=(
            "Restore the latest dump into a fresh database, start a deployment on it, run the pipeline "
            "for the latest session and confirm index validation (recomputed levels equal stored ones "
            "within 1e-9). Time it against the objectives (database 30 min, full system 1 h)."
        ),
        uses="ops.backup.backup_and_verify (keep the restored copy) + the pipeline against it",
        replaces=_refs(
            ("000", "Disaster recovery procedures; RTO: database 30 min, full system 1 h; RPO 1 h"),
            ("001", "Best practice: test recovery procedures quarterly"),
            ("004", "Quarterly tasks: business continuity testing"),
        ),
    ),
    OpsTask(
        name="warehouse_performance_review",
        cadence="quarterly",
        cron="0 6 2 1,4,7,10 *",
        kind="review",
        title="Warehouse and pipeline performance review",
        description=(
            "Slowest queries (pg_stat_statements when enabled), unused and bloated indexes (REINDEX "
            "CONCURRENTLY only where bloat is found), and the repository's benchmarks/ (ingest, index) "
            "re-run and compared with last quarter's timings."
        ),
        uses="benchmarks/ scripts + catalog queries",
        replaces=_refs(
            ("001", "Quarterly performance review: slow queries, compression"),
            ("001", "Monthly database optimization: REINDEX if query performance degraded"),
            ("004", "Index maintenance: monitor index usage, REINDEX CONCURRENTLY"),
            ("004", "Quarterly tasks: performance benchmarking"),
            ("000", "Performance tuning: EXPLAIN ANALYZE, pg_stat_user_indexes, pg_stat_statements"),
        ),
    ),
    OpsTask(
        name="universe_review",
        cadence="quarterly",
        cron="0 9 25 3,6,9,12 *",
        kind="review",
        title="Universe review",
        description=(
            "After the S&P 500's quarterly rebalance (third Friday of Mar/Jun/Sep/Dec): compare the "
            "universe file with the current constituents, list symbols without recent prices "
            "(delisted or renamed), edit universe.csv and backfill new symbols with a targeted refresh."
        ),
        uses="universe config (universe.csv) + targeted refresh",
        replaces=_refs(
            ("001", "Quarterly symbol list expansion: edit BACKFILL_SYMBOLS, restart, verify after the next backfill"),
            ("000", "seed_assets.py: populate the S&P 500 stocks, ETFs and commodities"),
        ),
    ),
    OpsTask(
        name="dependency_update",
        cadence="quarterly",
        cron="0 9 15 1,4,7,10 *",
        kind="review",
        title="Dependency and platform update",
        description=(
            "Upgrade the pinned Dagster family together, pandas / numpy and the PostgreSQL minor "
            "release; run the test suite including the bt / empyrical cross-checks; confirm pg_dump's "
            "major version still matches the server."
        ),
        uses="pyproject.toml pins + test suite",
        replaces=_refs(
            ("001", "Quarterly Docker image update: pull base images, rebuild, verify health"),
            ("004", "Monthly tasks: dependency updates"),
            ("004", "Quarterly tasks: technology stack evaluation"),
        ),
    ),
)


NOT_ON_CALENDAR: tuple[NotOnCalendar, ...] = tuple(
    NotOnCalendar(SeedRef(seed, item), handled_by)
    for seed, item, handled_by in (
        ("000", "Celery beat: refresh market data daily at 18:00", "pipeline schedule on the prices asset (18:00 New York, sessions)"),
        (
            "000",
            "Celery beat: compute index values at 19:00",
            "index assets downstream of prices: declarative automation when prices update and their blocking checks pass",
        ),
        ("000", "Celery beat: collect news every 15 minutes", "pipeline schedule on the news asset"),
        ("000", "Default strategy: -1% daily drop alert", "ops.alerts.daily_drop_alerts (warning at -1%, critical at -2%)"),
        ("000", "Alert thresholds: data_quality_score 0.9", "blocking quality check + ops.alerts.failed_check_alert"),
        ("000", "Task retry with exponential backoff", "providers.http.RetryPolicy (tenacity) and dagster.yaml run retries"),
        (
            "000",
            "Migration safety: automatic backup before migrations",
            "manual step of the upgrade runbook: run warehouse_backup_job before `autoindex db upgrade` (not automatic)",
        ),
        ("000", "Remove old cache entries; Redis backup", "not applicable: no cache"),
        ("000", "Connection pool monitoring", "not applicable: short-lived job connections"),
        ("001", "Alert: data stale (> 24 hours old)", "ops.alerts.stale_prices_alert / stale_news_alert in a sensor"),
        ("001", "Alert: low validation rate (< 90%)", "quality asset checks + ops.alerts.failed_check_alert"),
        ("001", "Alert: scheduler stopped / API not responding", "Dagster daemon health in the UI; ops.alerts.run_failure_alert"),
        (
            "001",
            "Weekly log review: recurring errors, rate-limit warnings",
            "ops.alerts.provider_success_alert + run_failure_alert; call stats in run metadata",
        ),
        ("002", "External API success rate > 95%", "ops.alerts.provider_success_alert (last 100 calls)"),
        ("002", "Alert severities (critical / warning)", "ops.alerts severities + ops.notify routing"),
        ("003", "High loss alert: daily loss beyond a limit", "ops.alerts.daily_drop_alerts"),
        ("003", "Trading inactive: no trades in 4 hours", "ops.alerts.news_inactivity_alert / stale_prices_alert (no trading here)"),
        ("003", "System down alert every 5 minutes by mail", "ops.alerts.run_failure_alert via ops.notify (email for critical)"),
        ("003", "Docker prune, apt upgrade, certbot renew", "not applicable: host administration"),
        ("003", "Redis BGSAVE / rdb backups", "not applicable: no Redis"),
        (
            "004",
            "Alerting response: critical pages, warning investigates, info logs",
            "ops.notify.NotifierSettings (email critical, Slack warning+, log all)",
        ),
        ("004", "Security scanning, penetration testing, certificate renewal, HPA, vector database", "not applicable to this product"),
    )
)


# --------------------------------------------------------------------------------------------
# Queries


def tasks(cadence: str | None = None) -> tuple[OpsTask, ...]:
    """Every task, or those of one cadence, in calendar order."""
    if cadence is not None and cadence not in CADENCES:
        raise ValueError(f"cadence must be one of {', '.join(CADENCES)}, not {cadence!r}")
    return tuple(t for t in OPERATIONS_CALENDAR if cadence is None or t.cadence == cadence)


def task(name: str) -> OpsTask:
    for t in OPERATIONS_CALENDAR:
        if t.name == name:
            return t
    raise KeyError(f"no operations task named {name!r}")


def seed_coverage() -> dict[str, list[tuple[str, str]]]:
    """Per seed file, each operation it describes and what replaces it (a task name or the
    mechanism from :data:`NOT_ON_CALENDAR`)."""
    out: dict[str, list[tuple[str, str]]] = {seed: [] for seed in SEEDS}
    for t in OPERATIONS_CALENDAR:
        for ref in t.replaces:
            out[ref.seed].append((ref.item, f"calendar task {t.name} ({t.cadence})"))
    for n in NOT_ON_CALENDAR:
        out[n.ref.seed].append((n.ref.item, n.handled_by))
    return out


def to_markdown() -> str:
    """The calendar as a Markdown document (for docs/operations.md)."""
    lines = ["# Operations calendar", "", f"Cron expressions are in {TIMEZONE}.", ""]
    for cadence in CADENCES:
        lines += [f"## {cadence.capitalize()}", "", "| Task | Cron | Kind | What | Replaces |", "|---|---|---|---|---|"]
        for t in tasks(cadence):
            replaces = "<br>".join(str(r) for r in t.replaces)
            lines.append(f"| `{t.name}` | `{t.cron}` | {t.kind} | {t.title}: {t.description} | {replaces} |")
        lines.append("")
    lines += ["## Seed operations that are not calendar tasks", "", "| Seed operation | Handled by |", "|---|---|"]
    for n in NOT_ON_CALENDAR:
        lines.append(f"| {n.ref} | {n.handled_by} |")
    return "\n".join(lines) + "\n"
