"""Capacity figures from stored size snapshots: growth per day and per month, days until the
disk is full, and the configured lines they must not cross. Pure: the snapshots come in as a
series of bytes by day.

Growth per day is the change since the previous snapshot divided by the days between them (a
skipped day does not double the figure). Growth per month is the change over the last 30 days
(from the newest snapshot at least 30 days old, else the oldest one), scaled to 30 days; with a
single snapshot there is no growth yet (None), never a made-up zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

MONTH_DAYS = 30


@dataclass(frozen=True)
class Growth:
    per_day: float | None
    """Bytes per day since the previous snapshot."""
    per_month: float | None
    """Bytes per 30 days over the last month of snapshots."""
    month_days: int
    """Days the monthly figure actually spans (under 30 while the history is young)."""


def growth(sizes: pd.Series) -> Growth:
    """``sizes``: bytes indexed by day (one value per day, any order)."""
    s = sizes.dropna().sort_index()
    s.index = pd.to_datetime(s.index)
    if len(s) < 2:
        return Growth(None, None, 0)
    last_day, last = s.index[-1], float(s.iloc[-1])
    prev_day, prev = s.index[-2], float(s.iloc[-2])
    per_day = (last - prev) / max((last_day - prev_day).days, 1)
    old = s[s.index <= last_day - pd.Timedelta(days=MONTH_DAYS)]
    base_day, base = (old.index[-1], float(old.iloc[-1])) if len(old) else (s.index[0], float(s.iloc[0]))
    span = max((last_day - base_day).days, 1)
    return Growth(per_day, (last - base) / span * MONTH_DAYS, span)


def days_until_full(free_bytes: float, per_day: float | None) -> float | None:
    """At the current daily growth; None when the warehouse is not growing."""
    if per_day is None or per_day <= 0:
        return None
    return free_bytes / per_day


@dataclass(frozen=True)
class CapacityLimits:
    min_free_bytes: float
    min_free_fraction: float
    max_growth_bytes_per_month: float | None


def capacity_problems(free_bytes: float, disk_bytes: float, month_growth: float | None, limits: CapacityLimits) -> list[str]:
    """The lines crossed, each as a sentence with the figure and the line; empty when none is."""
    problems = []
    gb = 1e9
    if free_bytes < limits.min_free_bytes:
        problems.append(f"free disk {free_bytes / gb:.1f} GB is below {limits.min_free_bytes / gb:.1f} GB")
    if disk_bytes > 0 and free_bytes / disk_bytes < limits.min_free_fraction:
        problems.append(f"free disk {free_bytes / disk_bytes:.1%} of the volume is below {limits.min_free_fraction:.0%}")
    if limits.max_growth_bytes_per_month is not None and month_growth is not None and month_growth > limits.max_growth_bytes_per_month:
        problems.append(
            f"the warehouse grows {month_growth / 1e6:.0f} MB a month, above {limits.max_growth_bytes_per_month / 1e6:.0f} MB"
        )
    return problems
