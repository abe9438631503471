import pandas as pd

from autoindex_pipeline.domain.calendar import session_close_utc, sessions_between
from autoindex_pipeline.domain.refresh import contiguous_ranges, smart_refresh_plan


def test_contiguous_ranges_follow_session_order_across_holidays():
    sessions = sessions_between("2025-12-22", "2026-01-09")
    picked = pd.DatetimeIndex(pd.to_datetime(["2025-12-24", "2025-12-26", "2026-01-06", "2026-01-07"]))
    # 24th and 26th are adjacent sessions (Christmas is a holiday).
    assert [(a.strftime("%m-%d"), b.strftime("%m-%d"), n) for a, b, n in contiguous_ranges(picked, sessions)] == [
        ("12-24", "12-26", 2), ("01-06", "01-07", 2),
    ]


def test_smart_plan_finds_missing_incomplete_and_premature_sessions():
    sessions = sessions_between("2025-03-03", "2025-03-14")  # 10 sessions
    closes = pd.Series([session_close_utc(s) for s in sessions], index=sessions)
    late = closes + pd.Timedelta(hours=2)
    coverage = pd.DataFrame({"date": sessions, "symbols": 100, "first_ingested_at": late.to_numpy(dtype=object)})
    coverage = coverage[~coverage["date"].isin(pd.to_datetime(["2025-03-05", "2025-03-06"]))]  # missing
    coverage.loc[coverage["date"] == "2025-03-10", "symbols"] = 90  # incomplete (< 98)
    coverage.loc[coverage["date"] == "2025-03-14", "first_ingested_at"] = closes.loc["2025-03-14"] - pd.Timedelta(hours=3)
    plan = smart_refresh_plan(sessions, coverage, expected_symbols=100, min_symbol_coverage=0.98, session_closes_utc=closes)
    assert [(r.start.strftime("%m-%d"), r.end.strftime("%m-%d"), r.sessions, r.reason) for r in plan] == [
        ("03-05", "03-06", 2, "missing"),
        ("03-10", "03-10", 1, "incomplete"),
        ("03-14", "03-14", 1, "premature"),
    ]


def test_smart_plan_is_empty_when_everything_is_there():
    sessions = sessions_between("2025-03-03", "2025-03-07")
    closes = pd.Series([session_close_utc(s) for s in sessions], index=sessions)
    coverage = pd.DataFrame({"date": sessions, "symbols": 50, "first_ingested_at": (closes + pd.Timedelta(hours=1)).to_numpy(dtype=object)})
    assert smart_refresh_plan(sessions, coverage, 50, 0.98, closes) == []
