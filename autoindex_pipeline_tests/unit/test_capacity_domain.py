"""Growth and capacity lines from stored size snapshots (domain/capacity.py)."""

import pandas as pd
import pytest

from autoindex_pipeline.domain.capacity import CapacityLimits, capacity_problems, days_until_full, growth


def _sizes(pairs):
    return pd.Series([b for _, b in pairs], index=pd.to_datetime([d for d, _ in pairs]))


def test_no_growth_from_a_single_snapshot():
    g = growth(_sizes([("2026-01-01", 1e9)]))
    assert (g.per_day, g.per_month, g.month_days) == (None, None, 0)


def test_daily_growth_divides_by_the_days_between_snapshots():
    g = growth(_sizes([("2026-01-01", 100.0), ("2026-01-02", 130.0), ("2026-01-05", 160.0)]))
    assert g.per_day == pytest.approx(10.0)  # +30 over 3 days, not +30 a day
    assert g.per_month == pytest.approx(60 / 4 * 30) and g.month_days == 4  # young history: scaled to 30 days


def test_monthly_growth_from_the_newest_snapshot_at_least_30_days_old():
    days = pd.date_range("2026-01-01", periods=61, freq="D")
    sizes = pd.Series([1000.0 + 5 * i for i in range(61)], index=days)
    sizes.iloc[:20] = 0.0  # far older history must not count
    g = growth(sizes.sample(frac=1.0, random_state=1))  # any order
    assert g.per_day == pytest.approx(5.0)
    assert g.per_month == pytest.approx(150.0) and g.month_days == 30


def test_days_until_full_only_when_growing():
    assert days_until_full(1000.0, 10.0) == 100.0
    assert days_until_full(1000.0, 0.0) is None and days_until_full(1000.0, -5.0) is None and days_until_full(1.0, None) is None


def test_each_crossed_line_is_named_with_its_figure():
    limits = CapacityLimits(min_free_bytes=5e9, min_free_fraction=0.1, max_growth_bytes_per_month=1e9)
    assert capacity_problems(50e9, 100e9, 0.5e9, limits) == []
    problems = capacity_problems(4e9, 100e9, 2e9, limits)
    assert problems == [
        "free disk 4.0 GB is below 5.0 GB",
        "free disk 4.0% of the volume is below 10%",
        "the warehouse grows 2000 MB a month, above 1000 MB",
    ]
    # No growth line configured, no growth known yet: nothing about growth.
    assert capacity_problems(50e9, 100e9, 9e12, CapacityLimits(0, 0, None)) == []
    assert capacity_problems(50e9, 100e9, None, limits) == []
