"""Price cleaning (spec section 2) on hand-checked numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.domain.cleaning import clean_closes, daily_returns, to_wide

# 2024-01-02 .. 2024-01-10: Jan 6-7 is a weekend -> 7 sessions.
SESSIONS = sessions_between("2024-01-02", "2024-01-10")


def _wide(**columns: list[float]) -> pd.DataFrame:
    return pd.DataFrame(columns, index=SESSIONS[: len(next(iter(columns.values())))], dtype=float)


def test_to_wide_reindexes_to_the_calendar() -> None:
    long = pd.DataFrame(
        {
            "symbol": ["B", "A", "A", "A"],
            "date": ["2024-01-02", "2024-01-02", "2024-01-04", "2024-01-06"],  # 01-06 is a Saturday
            "close": [5.0, 10.0, 11.0, 99.0],
        }
    )
    wide = to_wide(long, SESSIONS)
    assert list(wide.columns) == ["A", "B"]
    assert wide.index.equals(SESSIONS)
    assert wide.loc["2024-01-02", "A"] == 10.0
    assert np.isnan(wide.loc["2024-01-03", "A"])  # no row -> missing on that session
    assert wide.loc["2024-01-04", "A"] == 11.0
    assert wide["A"].notna().sum() == 2  # the Saturday row is not a session: dropped
    assert wide["B"].notna().sum() == 1


def test_to_wide_rejects_duplicates() -> None:
    long = pd.DataFrame({"symbol": ["A", "A"], "date": ["2024-01-02", "2024-01-02"], "close": [1.0, 2.0]})
    with pytest.raises(ValueError, match="duplicate"):
        to_wide(long, SESSIONS)


def test_invalid_closes_become_missing_but_low_prices_stay() -> None:
    raw = _wide(A=[10.0, 0.0, -3.0, np.inf, np.nan, 0.5, 0.4])
    cleaned = clean_closes(raw, max_forward_fill_days=0)
    # 0, negative, inf and NaN are missing; 0.5 and 0.4 are real (if low) prices.
    assert cleaned["A"].tolist()[:1] == [10.0]
    assert cleaned["A"].iloc[1:5].isna().all()
    assert cleaned["A"].iloc[5:].tolist() == [0.5, 0.4]


def test_halted_asset_forward_fill_limit_two() -> None:
    # Halted for 3 sessions: with limit 2 the first two take 10.0, the third stays missing.
    raw = _wide(A=[10.0, np.nan, np.nan, np.nan, 12.0, np.nan, 13.0])
    cleaned = clean_closes(raw, max_forward_fill_days=2)
    np.testing.assert_array_equal(cleaned["A"].to_numpy(), [10.0, 10.0, 10.0, np.nan, 12.0, 12.0, 13.0])


def test_leading_gap_is_never_filled_and_limit_zero_means_no_fill() -> None:
    raw = _wide(A=[np.nan, np.nan, 5.0, np.nan, 6.0, 6.0, 6.0])
    np.testing.assert_array_equal(clean_closes(raw, 2)["A"].to_numpy(), [np.nan, np.nan, 5.0, 5.0, 6.0, 6.0, 6.0])
    np.testing.assert_array_equal(clean_closes(raw, 0)["A"].to_numpy(), [np.nan, np.nan, 5.0, np.nan, 6.0, 6.0, 6.0])


def test_daily_returns_first_row_missing_and_gaps() -> None:
    cleaned = clean_closes(_wide(A=[10.0, 11.0, np.nan, np.nan, np.nan, 12.0, 12.6]), 2)
    # closes: 10, 11, 11, 11, NaN, 12, 12.6
    r = daily_returns(cleaned, -0.5, 0.5)["A"].to_numpy()
    assert np.isnan(r[0])  # no previous close
    assert r[1] == pytest.approx(0.1)  # 11 / 10 - 1
    assert r[2] == 0.0 and r[3] == 0.0  # forward-filled sessions earn 0
    assert np.isnan(r[4])  # the third missing session: missing
    assert np.isnan(r[5])  # previous close missing -> missing (the move over the halt is not booked)
    assert r[6] == pytest.approx(0.05)  # 12.6 / 12 - 1


def test_returns_are_clipped() -> None:
    cleaned = _wide(A=[10.0, 16.0, 6.4, 6.4], B=[10.0, 4.0, 4.4, 4.4])
    r = daily_returns(cleaned, -0.5, 0.5)
    # A: 16/10-1 = +0.6 -> 0.5; 6.4/16-1 = -0.6 -> -0.5.  B: 4/10-1 = -0.6 -> -0.5; 4.4/4-1 = 0.1.
    assert r["A"].iloc[1] == 0.5 and r["A"].iloc[2] == -0.5
    assert r["B"].iloc[1] == -0.5 and r["B"].iloc[2] == pytest.approx(0.1)


def test_raw_price_split_is_not_adjusted() -> None:
    # A 2:1 split in raw prices: 100 -> 50 is exactly -0.5, inside the clip, so it stays -0.5.
    # A 3:1 split: 90 -> 30 is -0.667, clipped to -0.5. The methodology does not adjust splits:
    # the quality checks flag them and the data must be corrected upstream.
    cleaned = _wide(S2=[100.0, 50.0, 51.0], S3=[90.0, 30.0, 30.0])
    r = daily_returns(cleaned, -0.5, 0.5)
    assert r["S2"].iloc[1] == -0.5
    assert r["S3"].iloc[1] == -0.5
    assert r["S2"].iloc[2] == pytest.approx(0.02)


def test_cleaning_is_point_in_time() -> None:
    rng = np.random.default_rng(3)
    raw = pd.DataFrame(rng.uniform(1, 2, (7, 3)), index=SESSIONS, columns=list("ABC"))
    raw.iloc[2:4, 1] = np.nan
    full = daily_returns(clean_closes(raw, 2), -0.5, 0.5)
    prefix = daily_returns(clean_closes(raw.iloc[:4], 2), -0.5, 0.5)
    pd.testing.assert_frame_equal(full.iloc[:4], prefix, check_exact=True)


def test_stored_frame_is_not_modified() -> None:
    raw = _wide(A=[10.0, -1.0, np.nan])
    before = raw.copy()
    clean_closes(raw, 2)
    pd.testing.assert_frame_equal(raw, before)


def test_an_excluded_close_becomes_missing_and_nothing_else_moves():
    from autoindex_pipeline.domain.cleaning import exclude_overridden

    sessions = pd.DatetimeIndex(["2025-03-03", "2025-03-04"])
    wide = pd.DataFrame({"A": [1.0, 2.0], "B": [3.0, 4.0]}, index=sessions)
    overrides = pd.DataFrame({"symbol": ["A", "B", "ZZZ"], "date": pd.to_datetime(["2025-03-04", "2025-03-03", "2025-03-03"]),
                              "action": ["exclude", "accept", "exclude"]})
    out = exclude_overridden(wide, overrides)
    assert out["A"].tolist()[0] == 1.0 and np.isnan(out["A"].iloc[1]) and out["B"].tolist() == [3.0, 4.0]
    assert wide["A"].tolist() == [1.0, 2.0]  # the input is not changed
