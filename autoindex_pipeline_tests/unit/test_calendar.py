import pandas as pd

from autoindex_pipeline.domain import calendar


def test_holidays_and_weekends_are_not_sessions():
    sessions = calendar.sessions_between("2025-12-22", "2026-01-05")
    days = [d.strftime("%Y-%m-%d") for d in sessions]
    # Christmas and New Year's Day are closed; Christmas Eve is a half day but a session.
    assert days == ["2025-12-22", "2025-12-23", "2025-12-24", "2025-12-26", "2025-12-29",
                    "2025-12-30", "2025-12-31", "2026-01-02", "2026-01-05"]


def test_non_session_weekdays_are_the_holidays():
    holidays = calendar.non_session_weekdays("2025-01-01", "2025-12-31")
    assert [d.strftime("%m-%d") for d in holidays] == [
        "01-01", "01-09", "01-20", "02-17", "04-18", "05-26", "06-19", "07-04", "09-01", "11-27", "12-25",
    ]  # 01-09: national day of mourning (President Carter)


def test_last_closed_session_respects_the_close_and_half_days():
    before_close = pd.Timestamp("2025-11-26 20:59", tz="UTC")  # 15:59 New York
    after_close = pd.Timestamp("2025-11-26 21:01", tz="UTC")
    assert calendar.last_closed_session(before_close) == pd.Timestamp("2025-11-25")
    assert calendar.last_closed_session(after_close) == pd.Timestamp("2025-11-26")
    # Black Friday closes at 13:00 New York.
    assert calendar.last_closed_session(pd.Timestamp("2025-11-28 18:30", tz="UTC")) == pd.Timestamp("2025-11-28")
    # Saturday: the Friday session.
    assert calendar.last_closed_session(pd.Timestamp("2025-11-29 12:00", tz="UTC")) == pd.Timestamp("2025-11-28")


def test_session_close_follows_daylight_saving():
    assert calendar.session_close_utc("2025-03-07") == pd.Timestamp("2025-03-07 21:00", tz="UTC")
    assert calendar.session_close_utc("2025-03-10") == pd.Timestamp("2025-03-10 20:00", tz="UTC")


def test_previous_session_skips_holidays():
    assert calendar.previous_session("2025-12-26") == pd.Timestamp("2025-12-24")
