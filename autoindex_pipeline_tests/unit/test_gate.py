"""Complete sessions only: hand-built grids, each reason a close may be absent."""

import numpy as np
import pandas as pd

from autoindex_pipeline.domain.gate import gate, unaccounted_closes

S = pd.DatetimeIndex(["2025-03-03", "2025-03-04", "2025-03-05", "2025-03-06"])


def _grid(**columns):
    return pd.DataFrame(columns, index=S, dtype=float)


def _first(**dates):
    return pd.Series({k: pd.Timestamp(v) if v else pd.NaT for k, v in dates.items()})


def test_a_full_grid_is_complete():
    raw = _grid(A=[1, 2, 3, 4], B=[5, 6, 7, 8])
    missing = unaccounted_closes(raw, _first(A="2020-01-02", B="2020-01-02"))
    verdict = gate(S, missing)
    assert missing.empty and not verdict.holds and verdict.last_complete == S[-1]


def test_a_missing_close_holds_that_session_and_every_later_one():
    raw = _grid(A=[1, 2, np.nan, 4], B=[5, 6, 7, 8])
    missing = unaccounted_closes(raw, _first(A="2020-01-02", B="2020-01-02"))
    assert missing.to_dict("records") == [{"date": S[2], "symbol": "A"}]
    verdict = gate(S, missing)
    assert verdict.last_complete == S[1]
    assert list(verdict.held) == list(S[2:])
    assert "2025-03-05 lacks the close of A" in verdict.describe()


def test_invalid_closes_count_as_missing():
    raw = _grid(A=[1, 0.0, -3, 4], B=[5, 6, 7, np.inf])
    missing = unaccounted_closes(raw, _first(A="2020-01-02", B="2020-01-02"))
    assert [(d.day, s) for d, s in missing.itertuples(index=False)] == [(4, "A"), (5, "A"), (6, "B")]


def test_not_listed_yet_is_a_known_reason():
    raw = _grid(A=[1, 2, 3, 4], NEW=[np.nan, np.nan, 10, 11], NEVER=[np.nan] * 4)
    missing = unaccounted_closes(raw, _first(A="2020-01-02", NEW="2025-03-05", NEVER=None))
    assert missing.empty


def test_absences_halts_and_open_ended_delistings_are_known_reasons():
    raw = _grid(A=[1, np.nan, np.nan, 4], GONE=[5, 6, np.nan, np.nan])
    absences = pd.DataFrame({
        "symbol": ["A", "GONE"], "date_from": pd.to_datetime(["2025-03-04", "2025-03-05"]),
        "date_to": pd.to_datetime(["2025-03-05", None]),
    })
    missing = unaccounted_closes(raw, _first(A="2020-01-02", GONE="2020-01-02"), absences)
    assert missing.empty
    # A halt recorded for one day only leaves the other missing day unaccounted.
    short = absences.assign(date_to=pd.to_datetime(["2025-03-04", None]))
    missing = unaccounted_closes(raw, _first(A="2020-01-02", GONE="2020-01-02"), short)
    assert missing.to_dict("records") == [{"date": S[2], "symbol": "A"}]


def test_an_excluded_close_is_known_to_be_missing():
    raw = _grid(A=[1, 2, np.nan, 4])
    excluded = pd.DataFrame({"symbol": ["A"], "date": [S[2]]})
    assert unaccounted_closes(raw, _first(A="2020-01-02"), excluded=excluded).empty


def test_the_first_session_incomplete_holds_everything():
    raw = _grid(A=[np.nan, 2, 3, 4])
    verdict = gate(S, unaccounted_closes(raw, _first(A="2020-01-02")))
    assert verdict.last_complete is None and list(verdict.held) == list(S)


def test_only_the_frontier_holds_older_gaps_are_published_and_reported():
    raw = _grid(A=[1, np.nan, 3, 4], B=[5, 6, 7, np.nan])
    missing = unaccounted_closes(raw, _first(A="2020-01-02", B="2020-01-02"))
    verdict = gate(S, missing, frontier=S[2])  # the newest two sessions may still receive data
    assert list(verdict.held) == [S[3]] and verdict.last_complete == S[2]
    assert len(verdict.missing) == 2  # the 03-04 gap is reported, not waited for


def test_a_constituent_silent_longer_than_the_hold_window_is_no_longer_expected():
    raw = _grid(A=[1, 2, 3, 4], GONE=[5, np.nan, np.nan, np.nan])
    missing = unaccounted_closes(raw, _first(A="2020-01-02", GONE="2020-01-02"), recent_sessions=2)
    # expected while it traded within the 2 sessions before: 03-04 and 03-05; not on 03-06
    assert [d.day for d in missing["date"]] == [4, 5]
    assert unaccounted_closes(raw, _first(A="2020-01-02", GONE="2020-01-02"))["date"].dt.day.tolist() == [4, 5, 6]


def test_a_refused_close_holds_whatever_its_age():
    raw = _grid(A=[1, np.nan, 3, 4], B=[5, 6, 7, 8])
    missing = unaccounted_closes(raw, _first(A="2020-01-02", B="2020-01-02"))
    flagged = pd.DataFrame({"symbol": ["A"], "date": [S[1]]})
    verdict = gate(S, missing, frontier=S[3], flagged=flagged)
    assert verdict.last_complete == S[0] and list(verdict.held) == list(S[1:])
    assert not gate(S, missing, frontier=S[3]).holds  # the same gap without a verdict is history
