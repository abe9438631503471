"""Each quality check on a hand-made frame that passes and one that fails, offending rows named."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.domain import quality as q
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.reporting.markdown import offending_markdown
from autoindex_pipeline.services import gx

SESS = sessions_between("2025-01-02", "2025-03-31")  # Jan 20, Feb 19, Mar 21 sessions


def bars(symbol: str, closes, dates=None, *, spread: float = 0.01, volume: float = 1000.0) -> pd.DataFrame:
    """Consistent OHLCV bars: open = previous close, high/low around open and close."""
    closes = np.asarray(closes, dtype=float)
    dates = SESS[: len(closes)] if dates is None else pd.DatetimeIndex(pd.to_datetime(dates))
    opens = np.r_[closes[0], closes[:-1]]
    return pd.DataFrame(
        {
            "symbol": symbol,
            "date": dates,
            "open": opens,
            "high": np.maximum(opens, closes) * (1 + spread),
            "low": np.minimum(opens, closes) * (1 - spread),
            "close": closes,
            "volume": volume,
        }
    )


def walk(n: int, seed: int = 0, vol: float = 0.01, start: float = 100.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return start * np.exp(np.cumsum(rng.normal(0, vol, n)))


def keys(outcome: q.CheckOutcome) -> set[tuple[str, str]]:
    return {(s, pd.Timestamp(d).date().isoformat()) for s, d in zip(outcome.offending["symbol"], outcome.offending["date"])}


# ---------------------------------------------------------------- outcome plumbing


def test_outcome_sample_is_bounded_errors_first_and_metadata_is_json():
    off = pd.DataFrame(
        {
            "symbol": ["B", "A", "C"],
            "date": pd.to_datetime(["2025-01-03", "2025-01-02", "2025-01-02"]),
            "value": [1.0, np.nan, 3.0],
            "reason": ["w", "e", "e"],
            "severity": [q.WARN, q.ERROR, q.ERROR],
        }
    )
    o = q._outcome("x", off, severity=q.ERROR, observed=2, threshold=0, description="d", evaluated=10)
    sample, count = o.sample(2)
    assert count == 3 and list(sample["symbol"]) == ["A", "C"]
    meta = o.to_metadata(2)
    json.dumps(meta)  # plain JSON
    assert meta["offending_count"] == 3 and meta["offending_sample"][0] == {
        "symbol": "A", "date": "2025-01-02", "value": None, "reason": "e", "severity": "ERROR"
    }
    assert not o.passed and o.blocking and "3 offending of 10" in o.summary()
    assert "| A | 2025-01-02 |" in offending_markdown(o, 2)


# ---------------------------------------------------------------- completeness


def test_completeness_passes_a_full_window_and_names_each_missing_session():
    full = bars("A", walk(len(SESS)))
    ok = q.check_completeness(full, SESS)
    assert ok.passed and ok.observed == 1.0 and ok.per_symbol_pass_rate["A"] == 1.0

    gappy = full.drop(index=[25, 26])  # two February sessions
    gappy.loc[40, "close"] = np.nan  # a row without a valid close (March)
    out = q.check_completeness(gappy, SESS)
    assert not out.passed and out.severity == q.WARN  # the registry: a gap warns, the forward-fill limit handles it
    assert set(out.offending["severity"]) == {q.WARN}
    assert keys(out) == {("A", SESS[25].date().isoformat()), ("A", SESS[26].date().isoformat()), ("A", SESS[40].date().isoformat())}
    reasons = dict(zip(out.offending["date"], out.offending["reason"]))
    assert reasons[SESS[25]].startswith("no row (2025-02 at 0.895)")
    assert reasons[SESS[40]].startswith("close missing or not positive (2025-03 at 0.952)")
    assert out.per_symbol_pass_rate["A"] == pytest.approx((len(SESS) - 3) / len(SESS))
    per = out.details["per_symbol"].set_index("symbol")
    assert per.loc["A", "worst_period"] == "2025-02" and per.loc["A", "expected"] == len(SESS)


def test_completeness_whole_window_tolerates_what_a_month_does_not():
    """The maths behind period='M': one missing session of 60 is 0.983 >= 0.98."""
    prices = bars("A", walk(len(SESS))).drop(index=[30])
    assert not q.check_completeness(prices, SESS).passed
    whole = q.check_completeness(prices, SESS, period=None)
    assert whole.passed and whole.observed == pytest.approx(59 / 60)
    assert whole.details["missing_tolerated"] == 1


def test_completeness_active_range_listing_and_universe():
    late = bars("L", walk(20), dates=SESS[40:])  # first row mid-window: not penalised
    early = bars("D", walk(10), dates=SESS[:10])  # rows stop: not penalised without a universe
    prices = pd.concat([late, early])
    assert q.check_completeness(prices, SESS).passed
    # With the universe, every symbol is expected on every session ...
    strict = q.check_completeness(prices, SESS, symbols=["L", "D", "Z"])
    assert not strict.passed and {s for s, _ in keys(strict)} == {"L", "D", "Z"}
    # ... except outside known listing / delisting dates.
    listing = q.listing_frame({"L": SESS[40]}, {"D": SESS[9]})
    known = q.check_completeness(prices, SESS, listing=listing, symbols=["L", "D"])
    assert known.passed, known.offending
    assert known.details["per_session"]["expected"].iloc[0] == 1  # only D on the first session


# ---------------------------------------------------------------- validity


def test_ohlc_validity_names_the_broken_bound():
    good = bars("A", walk(5))
    assert gx.check_ohlc_validity(good).passed
    bad = good.copy()
    bad.loc[1, "close"] = bad.loc[1, "high"] * 10  # bad print of the close alone
    bad.loc[3, "low"] = bad.loc[3, "high"] + 1  # low above high
    bad.loc[4, "open"] = np.nan  # a missing price is not an OHLC violation
    out = gx.check_ohlc_validity(bad)
    assert not out.passed and len(out.offending) == 2
    assert dict(zip(out.offending["date"], out.offending["reason"])) == {
        SESS[1]: "close above high",
        SESS[3]: "close below low",
    }
    assert out.per_symbol_pass_rate["A"] == pytest.approx(3 / 5)


def test_positive_prices_and_volume():
    good = bars("A", walk(6))
    assert gx.check_positive_prices_and_volume(good).passed
    bad = good.copy()
    bad.loc[0, "close"] = 0.0
    bad.loc[1, "close"] = np.nan
    bad.loc[2, "low"] = -1.0
    bad.loc[3, "volume"] = -5.0
    bad.loc[4, "open"] = np.nan  # a missing open is not flagged
    out = gx.check_positive_prices_and_volume(bad)
    assert dict(zip(out.offending["date"], out.offending["reason"])) == {
        SESS[0]: "close not positive",
        SESS[1]: "close missing",
        SESS[2]: "low not positive",
        SESS[3]: "negative volume",
    }
    assert out.offending.set_index("date").loc[SESS[3], "value"] == -5.0


def test_duplicates_name_every_row_of_the_key():
    good = bars("A", walk(3))
    assert gx.check_duplicates(good).passed
    bad = pd.concat([good, good.iloc[[1]].assign(close=7.0)])
    out = gx.check_duplicates(bad)
    assert len(out.offending) == 2 and set(out.offending["value"]) == {good.loc[1, "close"], 7.0}
    assert out.offending["reason"].iloc[0] == "2 rows share this (symbol, date)"


# ---------------------------------------------------------------- outliers and splits


def test_outliers_cap_is_error_and_the_reversion_is_not_flagged():
    closes = walk(60, seed=1)
    clean = bars("A", closes)
    out = q.check_return_cap(clean)
    assert out.passed, out.offending
    assert q.check_robust_z(clean).passed
    spiky = closes.copy()
    spiky[40] *= 10  # bad print, next close normal
    out = q.check_return_cap(bars("A", spiky))
    assert not out.passed and out.severity == q.ERROR
    assert keys(out) == {("A", SESS[40].date().isoformat())}
    assert out.offending["reason"].iloc[0].endswith("beyond the cap")
    assert out.details["reversions_excused"] == 1


def test_outliers_robust_z_uses_past_data_only_and_is_a_warning():
    closes = walk(len(SESS), seed=2, vol=0.01)
    closes[50:] *= 1.12  # a +12% day: inside the cap, far outside the past 60 days' spread
    assert q.check_return_cap(bars("A", closes)).passed  # no return beyond the cap: not blocking
    out = q.check_robust_z(bars("A", closes))
    assert not out.passed and out.severity == q.WARN and not out.blocking
    assert keys(out) == {("A", SESS[50].date().isoformat())}
    assert out.offending["z"].iloc[0] > 5
    # Past only: with fewer than min_periods past returns nothing is z-scored ...
    assert q.check_robust_z(bars("A", closes[35:]), sessions=SESS[35:]).passed
    # ... and history before the window supplies them.
    hist, window = bars("A", closes[:45]), bars("A", closes[45:], dates=SESS[45:])
    out = q.check_robust_z(window, hist)
    assert keys(out) == {("A", SESS[50].date().isoformat())}


def test_past_robust_z_excludes_the_current_day():
    r = np.array([[0.01], [-0.01], [0.02], [-0.02], [0.5]])
    z, med, mad = q.past_robust_z(r, window=4, min_periods=4)
    # reference for the last row = the four before it: median 0, MAD 0.015
    assert med[4, 0] == 0.0 and mad[4, 0] == pytest.approx(0.015)
    assert z[4, 0] == pytest.approx(0.6745 * 0.5 / 0.015)
    assert np.isnan(z[:4]).all()


def test_an_unrecorded_split_is_blocking_a_recorded_one_passes_and_neither_is_an_outlier():
    closes = walk(60, seed=3)
    split = closes.copy()
    split[30:] /= 2  # 2:1 split: the whole bar moves overnight
    frame = bars("A", split)
    frame.loc[30, ["open", "low"]] /= 2  # the split day opens at the new price level
    splits = q.check_probable_splits(frame)
    assert not splits.passed and splits.severity == q.ERROR
    assert keys(splits) == {("A", SESS[30].date().isoformat())}
    assert splits.offending["reason"].iloc[0].startswith("2:1 split-like move with no recorded split")
    recorded = pd.DataFrame({"symbol": ["A"], "ex_date": [SESS[30]], "kind": ["split"], "ratio": [2.0], "amount": [np.nan]})
    assert q.check_probable_splits(frame, events=recorded).passed
    assert q.check_corporate_action_moves(frame, None, recorded).passed
    # A recorded split of the wrong size explains nothing, and is itself reported.
    wrong = recorded.assign(ratio=4.0)
    assert not q.check_probable_splits(frame, events=wrong).passed
    moves = q.check_corporate_action_moves(frame, None, wrong)
    assert moves.severity == q.WARN and keys(moves) == {("A", SESS[30].date().isoformat())}
    assert "recorded split 4" in moves.offending["reason"].iloc[0]
    assert q.check_return_cap(frame).passed and q.check_robust_z(frame).passed
    reverse = closes.copy()
    reverse[30:] *= 3  # 1:3 reverse split
    rev_frame = bars("A", reverse)
    rev_frame.loc[30, ["open", "high"]] *= 3
    rev = q.check_probable_splits(rev_frame)
    assert rev.offending["reason"].iloc[0].startswith("1:3 reverse split")


def test_bad_print_x10_is_not_a_reverse_split():
    closes = walk(40, seed=4)
    frame = bars("A", closes)
    frame.loc[20, "close"] *= 10  # open/high/low untouched, next session normal
    assert q.check_probable_splits(frame).passed
    # Even when the whole bar is x10, a move that reverts the next session is no split.
    bar = bars("A", closes)
    bar.loc[20, ["open", "high", "low", "close"]] *= 10
    bar.loc[21, "open"] = bar.loc[21, "close"]
    assert q.check_probable_splits(bar).passed
    assert q.check_probable_splits(bars("A", walk(40, seed=5))).passed


# ---------------------------------------------------------------- staleness and reconciliation


def test_staleness_counts_sessions_and_respects_delisting():
    a = bars("A", walk(10))
    b = bars("B", walk(8))  # newest close 2 sessions before as_of
    d = bars("D", walk(5))  # delisted on its last row
    prices = pd.concat([a, b, d])
    as_of = SESS[9]
    listing = q.listing_frame(delisted={"D": SESS[4]})
    out = q.check_staleness(prices, as_of, symbols=["A", "B", "D", "N"], listing=listing)
    assert dict(zip(out.offending["symbol"], out.offending["value"].fillna(-1))) == {"B": 2.0, "N": -1}
    assert out.per_symbol_pass_rate.to_dict() == {"A": 1.0, "B": 0.0, "D": 1.0, "N": 0.0}
    assert q.check_staleness(prices, as_of, max_sessions=2, listing=listing).passed
    # A feed that stopped before its delisting date is still stale.
    early = q.check_staleness(prices, as_of, listing=q.listing_frame(delisted={"D": SESS[8]}))
    assert keys(early) == {("D", SESS[4].date().isoformat()), ("B", SESS[7].date().isoformat())}


def test_reconciliation_sample_is_deterministic_and_flags_relative_differences():
    a, b = bars("A", walk(50)), bars("B", walk(50, seed=9))
    primary = pd.concat([a, b], ignore_index=True)
    secondary = primary.copy()
    ok = q.check_reconciliation(primary, secondary, sample_size=30, seed=1)
    assert ok.passed and ok.details["compared"] == 30
    again = q.check_reconciliation(primary.sample(frac=1, random_state=3), secondary, sample_size=30, seed=1)
    assert again.details == ok.details
    secondary.loc[5, "close"] *= 1.001  # 0.1%: within tolerance
    secondary.loc[7, "close"] *= 1.01  # 1%: mismatch
    out = q.check_reconciliation(primary, secondary, sample_size=None)
    assert keys(out) == {("A", SESS[7].date().isoformat())}
    assert out.offending["value"].iloc[0] == pytest.approx(0.01 / 1.01)
    assert out.observed == pytest.approx(1 / 100)
    assert q.check_reconciliation(primary, secondary, sample_size=None, max_mismatch_share=0.02).passed
    nothing = q.check_reconciliation(primary, secondary.iloc[0:0], sample_size=5)
    assert not nothing.passed and nothing.details["compared"] == 0


# ---------------------------------------------------------------- allocations


def _alloc(rows):
    return pd.DataFrame(rows, columns=["strategy", "date", "symbol", "weight"])


def test_allocation_checks():
    good = _alloc([("s", "2025-01-02", "A", 0.6), ("s", "2025-01-02", "B", 0.4), ("s", "2025-01-03", "A", 1.0)])
    for check in (q.check_weights_sum, q.check_no_negative_weights):
        assert check(good).passed
    assert q.check_weight_cap(good, None).passed
    assert q.check_benchmark_excluded(good, "SPY").passed

    bad = _alloc([("s", "2025-01-02", "A", 0.7), ("s", "2025-01-02", "B", 0.4), ("s", "2025-01-03", "A", 1.2), ("s", "2025-01-03", "SPY", -0.2)])
    sums = q.check_weights_sum(bad)
    assert not sums.passed and list(sums.offending["date"]) == [pd.Timestamp("2025-01-02")]
    assert sums.offending["value"].iloc[0] == pytest.approx(1.1) and sums.offending["strategy"].iloc[0] == "s"
    neg = q.check_no_negative_weights(bad)
    assert keys(neg) == {("SPY", "2025-01-03")}
    cap = q.check_weight_cap(bad, 0.65)
    assert keys(cap) == {("A", "2025-01-02"), ("A", "2025-01-03")}
    assert q.check_weight_cap(good, 1.0).passed
    bench = q.check_benchmark_excluded(bad, "spy")
    assert keys(bench) == {("SPY", "2025-01-03")}


# ---------------------------------------------------------------- index


def test_index_recomputation():
    stored = pd.DataFrame({"date": SESS[:4], "level": [100.0, 101.0, 102.0, 103.0]})
    assert q.check_index_recomputation(stored, stored.assign(level=stored["level"] * (1 + 1e-12))).passed
    fresh = stored.copy()
    fresh.loc[2, "level"] = 102.0 * (1 + 1e-6)
    fresh = fresh.drop(index=3)
    out = q.check_index_recomputation(stored, fresh)
    assert keys(out) == {("index", SESS[2].date().isoformat()), ("index", SESS[3].date().isoformat())}
    assert dict(zip(out.offending["date"], out.offending["reason"]))[SESS[3]] == "not in the recomputation"


def test_index_session_gaps():
    assert q.check_index_session_gaps(SESS[:10], SESS).passed
    dates = SESS[:10].delete(4).append(pd.DatetimeIndex(["2025-01-04"]))  # a Saturday
    out = q.check_index_session_gaps(pd.DataFrame({"date": dates}), SESS)
    assert dict(zip(out.offending["date"], out.offending["reason"])) == {SESS[4]: "session missing", pd.Timestamp("2025-01-04"): "not a session"}


def test_daily_moves_are_warnings():
    daily = pd.DataFrame({"date": SESS[:4], "daily_return": [np.nan, 0.005, -0.012, -0.025]})
    out = q.check_daily_moves(daily, -0.01)
    assert out.severity == q.WARN and not out.passed
    assert list(out.offending["reason"]) == ["drop (<= -1.00%)", "critical drop (<= -2.00%)"]
    assert out.details["critical"] == 1
    assert q.check_daily_moves(daily.iloc[:2], -0.01).passed


# ---------------------------------------------------------------- news


def _articles(rows):
    frame = pd.DataFrame(rows, columns=["article_id", "provider", "provider_id", "published_at", "url"])
    frame["published_at"] = pd.to_datetime(frame["published_at"], utc=True)
    return frame


def test_news_duplicates():
    good = _articles([("a1", "p", "1", "2025-01-02 10:00", "https://x.com/a"), ("a2", "p", "2", "2025-01-02 11:00", "https://x.com/b")])
    assert q.check_news_duplicates(good).passed
    bad = _articles(
        [
            ("a1", "p", "1", "2025-01-02 10:00", "https://x.com/a?utm_source=t"),
            ("a2", "p", "2", "2025-01-02 11:00", "http://www.x.com/a/"),  # same page
            ("a3", "p", "3", "2025-01-02 12:00", "https://x.com/c"),
            ("a3", "p", "4", "2025-01-02 12:00", "https://x.com/d"),  # same id
        ]
    )
    out = q.check_news_duplicates(bad)
    assert dict(zip(out.offending["value"], out.offending["reason"])) == {
        "a1": "same normalised URL", "a2": "same normalised URL", "a3": "same article_id",
    }
    assert len(out.offending) == 4


def test_news_missing_symbols():
    arts = _articles([("a1", "p", "1", "2025-01-02", "u1"), ("a2", "p", "2", "2025-01-02", "u2")])
    ents = pd.DataFrame({"article_id": ["a1", "a2"], "symbol": ["AAPL", "MSFT"]})
    assert q.check_news_missing_symbols(ents, ["AAPL", "MSFT"], arts).passed
    ents = pd.DataFrame({"article_id": ["a1", "a2"], "symbol": ["AAPL", "ZZZZ"]})
    out = q.check_news_missing_symbols(ents, ["AAPL", "MSFT"], arts)
    assert out.severity == q.WARN
    assert set(zip(out.offending["symbol"], out.offending["value"], out.offending["reason"])) == {
        ("ZZZZ", "a2", "symbol not in the universe"),
        ("", "a2", "article linked to no universe symbol"),
    }


def test_news_stale_only_on_trading_days():
    arts = _articles([("a1", "p", "1", "2025-01-06 14:00", "u")])  # a Monday
    assert q.check_news_stale(arts, "2025-01-07 12:00").passed  # 22 h later
    out = q.check_news_stale(arts, "2025-01-07 16:00")  # 26 h later, a Tuesday
    assert not out.passed and out.severity == q.WARN and out.offending["value"].iloc[0] == pytest.approx(26.0)
    assert q.check_news_stale(arts, "2025-01-11 16:00").passed  # Saturday: the feed may be quiet
    assert not q.check_news_stale(arts.iloc[0:0], "2025-01-07 16:00").passed
    assert q.check_news_stale(arts, "2025-01-07 16:00", is_trading_day=lambda d: False).passed


# ---------------------------------------------------------------- scores, grid, trend


def test_scores_colours_and_portfolio_gate():
    a = pd.Series({"A": 1.0, "B": 0.9, "C": 0.5}, name="pass_rate")
    b = pd.Series({"A": 0.98, "B": 1.0}, name="pass_rate")
    o1 = q._outcome("one", q._empty_offending(), severity=q.ERROR, observed=0, threshold=0, description="", per_symbol=a)
    o2 = q._outcome("two", q._empty_offending(), severity=q.ERROR, observed=0, threshold=0, description="", per_symbol=b)
    scores = q.quality_scores([o1, o2], symbols=["D"])
    table = scores.set_index("symbol")
    assert table.loc["A", "score"] == pytest.approx(0.99) and table.loc["A", "colour"] == "green"
    assert table.loc["B", "score"] == pytest.approx(0.95) and table.loc["B", "colour"] == "yellow"  # 0.95 is not > 0.95
    assert table.loc["C", "score"] == 0.5 and table.loc["C", "colour"] == "red"
    assert table.loc["D", "colour"] == "grey"
    assert list(scores["symbol"][:3]) == ["C", "B", "A"]  # worst first
    assert table.loc["C", "worst_check"] == "one"
    assert list(q.score_colour(np.array([0.951, 0.95, 0.85, 0.849]))) == ["green", "yellow", "yellow", "red"]
    assert q.portfolio_score(scores) == pytest.approx((0.99 + 0.95 + 0.5) / 3)
    assert q.portfolio_score(scores, {"A": 1.0, "C": 0.0}) == pytest.approx(0.99)
    gate = q.check_portfolio_score(scores)
    assert not gate.passed and list(gate.offending["symbol"]) == ["C"]
    assert q.check_portfolio_score(scores, min_score=0.8).passed


def test_daily_grid_and_trend():
    a = bars("A", walk(10))
    b = bars("B", walk(10, seed=1)).drop(index=[3])  # missing session -> error cell
    prices = pd.concat([a, b])
    sessions = SESS[:10]
    warn = q._outcome(
        "w",
        q._offending(["A"], [SESS[5]], [1.0], ["x"], q.WARN),
        severity=q.WARN, observed=1, threshold=0, description="",
    )
    err = q._outcome("e", q._offending(["A"], [SESS[6]], [1.0], ["x"], q.ERROR), severity=q.ERROR, observed=1, threshold=0, description="")
    grid = q.daily_quality(prices, sessions, [warn, err], symbols=["A", "B", "C"], listing=q.listing_frame({"C": SESS[8]}))
    assert grid.loc[SESS[5], "A"] == q.CELL_WARN and grid.loc[SESS[6], "A"] == q.CELL_ERROR
    assert grid.loc[SESS[3], "B"] == q.CELL_ERROR and grid.loc[SESS[4], "B"] == q.CELL_OK
    assert np.isnan(grid.loc[SESS[7], "C"]) and grid.loc[SESS[8], "C"] == q.CELL_ERROR  # listed, no data
    weekly = q.compact_grid(grid, "W")
    assert list(weekly["A"]) == [q.CELL_OK, q.CELL_WARN, q.CELL_ERROR] and list(weekly.index) == [SESS[0], SESS[2], SESS[6]]  # 2025-01-09 was no session
    trend = q.quality_trend(grid, "W")
    assert list(trend.columns) == ["date", "score", "ok", "warn", "error", "symbols_with_errors", "symbols"]
    assert trend["symbols_with_errors"].sum() >= 2 and (trend["ok"] + trend["warn"] + trend["error"]).round(12).eq(1).all()
