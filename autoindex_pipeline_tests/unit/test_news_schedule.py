"""The news schedule's tail: ticks before 01:00 New York also refresh the previous day, so the
articles of 23:45-24:00 are collected; run keys are stable per (day, tick)."""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from autoindex_pipeline.definitions import build_definitions

NY = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def defs():
    return build_definitions()


@pytest.fixture
def schedule(defs):
    return defs.resolve_schedule_def("news_every_15_minutes"), defs.get_repository_def()


def _tick(schedule, when: dt.datetime) -> list[dg.RunRequest]:
    definition, repository = schedule
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when, repository_def=repository)
        return list(definition.evaluate_tick(context).run_requests or [])


def test_ticks_before_one_in_the_morning_also_request_yesterday(schedule):
    requests = _tick(schedule, dt.datetime(2025, 12, 1, 0, 15, tzinfo=NY))
    assert [r.partition_key for r in requests] == ["2025-12-01", "2025-11-30"]
    assert [r.run_key for r in requests] == ["news-2025-12-01T00:15", "news-2025-11-30-tail-2025-12-01T00:15"]


def test_from_one_in_the_morning_only_today(schedule):
    requests = _tick(schedule, dt.datetime(2025, 12, 1, 1, 15, tzinfo=NY))
    assert [r.partition_key for r in requests] == ["2025-12-01"]
    assert [r.run_key for r in requests] == ["news-2025-12-01T01:15"]


def test_the_tick_is_read_in_new_york_and_its_keys_are_stable(schedule):
    # 05:45 UTC is 00:45 New York in winter: still the tail hour.
    first = _tick(schedule, dt.datetime(2025, 12, 1, 5, 45, tzinfo=dt.UTC))
    again = _tick(schedule, dt.datetime(2025, 12, 1, 5, 45, tzinfo=dt.UTC))
    assert [r.partition_key for r in first] == ["2025-12-01", "2025-11-30"]
    assert [r.run_key for r in first] == [r.run_key for r in again]
    # Across New Year the previous day is in the previous year.
    assert [r.partition_key for r in _tick(schedule, dt.datetime(2026, 1, 1, 0, 0, tzinfo=NY))] == ["2026-01-01", "2025-12-31"]


def test_no_tail_before_the_first_news_partition():
    from autoindex_pipeline.defs.news.schedules import news_run_requests

    first = dt.date(2025, 12, 1)
    requests = news_run_requests(dt.datetime(2025, 12, 1, 0, 15, tzinfo=NY), "sample", first_day=first)
    assert [r.partition_key for r in requests] == ["2025-12-01"]
    later = news_run_requests(dt.datetime(2025, 12, 2, 0, 15, tzinfo=NY), "sample", first_day=first)
    assert [r.partition_key for r in later] == ["2025-12-02", "2025-12-01"]
