"""The operations calendar's reviews: the recurring duties a person performs (everything else
runs on a schedule), when each is due, and which reviews fall in a given week. Pure: the weekly
`operations_checklist` asset renders what this says.

Each review is due on one day of the months it recurs in: the first Monday (reviews of the
month or quarter just ended), or the Monday after the third Friday (the S&P quarterly rebalance
takes effect after the close of the third Friday of March, June, September and December). A
review is listed as due in the week that day falls in; every review is listed with the day it
was last due and the next one, since nothing here knows whether a person did it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

FIRST_MONDAY = "first Monday"
AFTER_THIRD_FRIDAY = "Monday after the third Friday"

ALL_MONTHS = tuple(range(1, 13))
QUARTER_STARTS = (1, 4, 7, 10)
REBALANCE_MONTHS = (3, 6, 9, 12)


@dataclass(frozen=True)
class Review:
    key: str
    title: str
    cadence: str
    months: tuple[int, ...]
    day: str
    steps: str
    links: tuple[tuple[str, str], ...]
    """(label, target): a UI path (``/assets/prices``, joined to the UI's base URL) or a
    repository document (``docs/...``)."""


REVIEWS: tuple[Review, ...] = (
    Review(
        "monthly_findings", "Splits, gaps and outliers of the month", "monthly", ALL_MONTHS, FIRST_MONDAY,
        "Read the month's warnings and refusals: probable splits, robust z, completeness, open verdicts; settle each "
        "(re-fetch, override, absence) with `autoindex quality audit` / `autoindex quality override`.",
        (("prices checks", "/assets/prices?view=checks"), ("quality report", "/assets/quality_report"),
         ("runbook: when paged", "docs/operations.md#an-operators-day")),
    ),
    Review(
        "capacity_review", "Capacity trend", "monthly", ALL_MONTHS, FIRST_MONDAY,
        "Read the capacity chart (growth per month, days until the disk is full) and plan space before "
        "capacity_limits warns.",
        (("capacity asset", "/assets/capacity"),),
    ),
    Review(
        "recovery_drill", "Recovery drill", "quarterly", QUARTER_STARTS, FIRST_MONDAY,
        "Restore the latest stored backup into a scratch database, point a copy of the pipeline at it, run "
        "`autoindex run` for the last sessions, time it against the 30 min (database) / 1 h (system) objectives.",
        (("backup_restore_test_job runs", "/runs?q%5B0%5D=job%3Abackup_restore_test_job"),
         ("runbook: backups", "docs/operations.md#the-operations-calendar")),
    ),
    Review(
        "performance_review", "Warehouse and pipeline performance review", "quarterly", QUARTER_STARTS, FIRST_MONDAY,
        "Re-run the benchmarks, compare with benchmarks/README.md; on PostgreSQL read pg_stat_statements and REINDEX "
        "what has bloated.",
        (("benchmarks", "benchmarks/README.md"), ("capacity asset", "/assets/capacity")),
    ),
    Review(
        "universe_review", "Universe review after the S&P quarterly rebalance", "quarterly", REBALANCE_MONTHS,
        AFTER_THIRD_FRIDAY,
        "Apply the index changes to universe.csv, then a targeted refresh of the added symbols.",
        (("universe file", "autoindex_pipeline/data/universe.csv"), ("assets", "/assets/assets")),
    ),
    Review(
        "dependency_update", "Dependency and platform update", "quarterly", (2, 5, 8, 11), FIRST_MONDAY,
        "Bump the pins in pyproject.toml (Dagster, pandas, PostgreSQL client tools), run the tests, redeploy.",
        (("deployment", "docs/deployment.md"),),
    ),
)


def _first_weekday(year: int, month: int, weekday: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7)


def due_in_month(review: Review, year: int, month: int) -> dt.date | None:
    """The day ``review`` is due in that month; None when it does not recur in it."""
    if month not in review.months:
        return None
    if review.day == FIRST_MONDAY:
        return _first_weekday(year, month, 0)
    if review.day == AFTER_THIRD_FRIDAY:
        return _first_weekday(year, month, 4) + dt.timedelta(days=14 + 3)
    raise ValueError(f"unknown due day {review.day!r}")


def _months(start: dt.date, step: int, count: int):
    year, month = start.year, start.month
    for _ in range(count):
        yield year, month
        month += step
        if month == 13:
            year, month = year + 1, 1
        elif month == 0:
            year, month = year - 1, 12


def last_due(review: Review, on: dt.date) -> dt.date:
    """The latest due day on or before ``on``."""
    for year, month in _months(on, -1, 14):
        due = due_in_month(review, year, month)
        if due is not None and due <= on:
            return due
    raise ValueError(f"{review.key} recurs in no month")


def next_due(review: Review, after: dt.date) -> dt.date:
    """The first due day strictly after ``after``."""
    for year, month in _months(after, 1, 14):
        due = due_in_month(review, year, month)
        if due is not None and due > after:
            return due
    raise ValueError(f"{review.key} recurs in no month")


@dataclass(frozen=True)
class ChecklistItem:
    review: Review
    last_due: dt.date
    next_due: dt.date
    due_this_week: bool


def week_checklist(week_start: dt.date, reviews: tuple[Review, ...] = REVIEWS) -> list[ChecklistItem]:
    """Every review for the week starting ``week_start`` (a Monday): due this week first, then by
    the next due day."""
    week_end = week_start + dt.timedelta(days=6)
    items = []
    for review in reviews:
        last = last_due(review, week_end)
        items.append(ChecklistItem(review, last, next_due(review, week_end), last >= week_start))
    return sorted(items, key=lambda i: (not i.due_this_week, i.next_due if not i.due_this_week else i.last_due, i.review.key))
