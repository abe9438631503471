"""SampleProvider: determinism, clean symbols stay clean, and every documented fault is where the
module docstring says it is (and nowhere else)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.providers.prices.base import PriceProvider
from autoindex_pipeline.providers.prices.sample import SampleFaults, SampleProvider

FAULTS = SampleFaults()
FAULT_SYMBOLS = {s for s in FAULTS.fault_symbols().values() if s is not None}
CLEAN_EQUITIES = ["AAPL", "MSFT", "XOM", "PFE", "HD", "NEE"]
FIVE_YEARS = (dt.date(2021, 11, 25), dt.date(2026, 11, 25))
DEMO = (dt.date(2024, 11, 25), dt.date(2026, 11, 25))


def make_universe(extra: list[tuple[str, str, str, str]] | None = None, drop: tuple[str, ...] = ()) -> pd.DataFrame:
    rows = [
        ("AAPL", "Apple", "equity", "Information Technology"),
        ("MSFT", "Microsoft", "equity", "Information Technology"),
        ("XOM", "Exxon Mobil", "equity", "Energy"),
        ("PFE", "Pfizer", "equity", "Health Care"),
        ("HD", "Home Depot", "equity", "Consumer Discretionary"),
        ("NEE", "NextEra Energy", "equity", "Utilities"),
        ("KO", "Coca-Cola", "equity", "Consumer Staples"),
        ("NVDA", "Nvidia", "equity", "Information Technology"),
        ("JPM", "JPMorgan Chase", "equity", "Financials"),
        ("BA", "Boeing", "equity", "Industrials"),
        ("GEV", "GE Vernova", "equity", "Industrials"),
        ("WBA", "Walgreens Boots Alliance", "equity", "Consumer Staples"),
        ("MMM", "3M", "equity", "Industrials"),
        ("SPY", "SPDR S&P 500 ETF", "etf", "Broad Market"),
        ("QQQ", "Invesco QQQ", "etf", "Broad Market"),
        ("GLD", "SPDR Gold Shares", "commodity", "Commodities"),
        ("USO", "United States Oil Fund", "commodity", "Commodities"),
    ] + (extra or [])
    frame = pd.DataFrame(rows, columns=["symbol", "name", "asset_class", "sector"])
    return frame.loc[~frame["symbol"].isin(drop)].reset_index(drop=True)


UNIVERSE = make_universe()
ALL = UNIVERSE["symbol"].tolist()
CLEAN = [s for s in ALL if s not in FAULT_SYMBOLS]


@pytest.fixture(scope="module")
def provider() -> SampleProvider:
    return SampleProvider(UNIVERSE)


@pytest.fixture(scope="module")
def clean_provider() -> SampleProvider:
    return SampleProvider(UNIVERSE, faults=SampleFaults.none())


@pytest.fixture(scope="module")
def five_years(provider: SampleProvider) -> pd.DataFrame:
    return provider.fetch_prices(ALL, *FIVE_YEARS).frame


def _values(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="source").reset_index(drop=True)


def _one(frame: pd.DataFrame, symbol: str) -> pd.DataFrame:
    return frame.loc[frame["symbol"] == symbol].set_index("date")


def test_implements_the_provider_protocol(provider: SampleProvider) -> None:
    assert isinstance(provider, PriceProvider)
    assert provider.name == "sample"


# ---------------------------------------------------------------- determinism


def test_a_week_equals_the_same_week_inside_five_years(provider: SampleProvider, five_years: pd.DataFrame) -> None:
    week = provider.fetch_prices(ALL, dt.date(2025, 3, 10), dt.date(2025, 3, 16)).frame
    inside = five_years.loc[five_years["date"].between("2025-03-10", "2025-03-16")]
    assert len(week) > 0
    pd.testing.assert_frame_equal(_values(week), _values(inside))


def test_a_fresh_instance_fetching_a_sub_range_matches(five_years: pd.DataFrame) -> None:
    fresh = SampleProvider(UNIVERSE).fetch_prices(["BA", "NVDA", "AAPL"], dt.date(2025, 5, 1), dt.date(2025, 9, 30)).frame
    wanted = five_years["symbol"].isin(["BA", "NVDA", "AAPL"]) & five_years["date"].between("2025-05-01", "2025-09-30")
    inside = five_years.loc[wanted]
    pd.testing.assert_frame_equal(_values(fresh), _values(inside))


def test_a_fetch_keeps_no_history_and_builds_only_its_window(five_years) -> None:
    """3,000 symbols' generated histories from 2000 are ~840 MiB: an instance keeps none of them
    (the draws run from the origin each call, the bars are built over the window only), and the
    bars and dividends are the same numbers as those of a longer fetch."""
    import tracemalloc

    extra = [(f"ZZ{i:03d}", f"Synthetic {i}", "equity", "Industrials") for i in range(60)]
    provider = SampleProvider(make_universe(extra=extra))
    provider.fetch_prices(["AAPL", "SPY", "GLD"], *FIVE_YEARS)  # the shared factor paths, computed once
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        frame = provider.fetch_prices(provider.symbols, *FIVE_YEARS).frame
        events = provider.fetch_corporate_actions(provider.symbols, *FIVE_YEARS).frame
        del frame, events
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # A whole history is ~290 KB a symbol: 77 of them would be ~22 MB.
    assert kept < 2 * 2**20
    week = provider.fetch_prices(ALL, dt.date(2025, 3, 10), dt.date(2025, 3, 16)).frame
    pd.testing.assert_frame_equal(_values(week), _values(five_years[five_years["date"].between("2025-03-10", "2025-03-16")]))
    recent = provider.fetch_corporate_actions(ALL, dt.date(2025, 1, 1), FIVE_YEARS[1]).frame
    everything = SampleProvider(UNIVERSE).fetch_corporate_actions(ALL, *FIVE_YEARS).frame
    pd.testing.assert_frame_equal(recent.reset_index(drop=True),
                                  everything[everything["ex_date"] >= "2025-01-01"].reset_index(drop=True))


def test_symbol_subset_and_a_bigger_universe_leave_values_unchanged(five_years: pd.DataFrame) -> None:
    extra = [("CAT", "Caterpillar", "equity", "Industrials"), ("VTI", "Vanguard Total", "etf", "Broad Market")]
    bigger = make_universe(extra=extra, drop=("MSFT",))
    other = SampleProvider(bigger)
    subset = other.fetch_prices(["AAPL", "XOM", "GLD"], *FIVE_YEARS).frame
    expected = five_years.loc[five_years["symbol"].isin(["AAPL", "XOM", "GLD"])]
    pd.testing.assert_frame_equal(_values(subset), _values(expected))


def test_same_seed_is_equal_and_a_different_seed_differs() -> None:
    span = (dt.date(2025, 1, 1), dt.date(2025, 3, 31))
    a = SampleProvider(UNIVERSE, seed=7).fetch_prices(["AAPL", "SPY"], *span).frame
    b = SampleProvider(UNIVERSE, seed=7).fetch_prices(["AAPL", "SPY"], *span).frame
    c = SampleProvider(UNIVERSE, seed=8).fetch_prices(["AAPL", "SPY"], *span).frame
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["close"].to_numpy(), c["close"].to_numpy())


def test_a_longer_calendar_does_not_change_the_past(five_years: pd.DataFrame) -> None:
    """The calendar's horizon moves with today's date; the series must not move with it."""
    short = SampleProvider(UNIVERSE)
    keep = int(short._sessions.searchsorted(pd.Timestamp("2026-12-31")))
    short._sessions = short._sessions[:keep]
    short._n = keep
    again = short.fetch_prices(ALL, *FIVE_YEARS).frame
    pd.testing.assert_frame_equal(_values(again), _values(five_years))


# ---------------------------------------------------------------- clean symbols


def test_clean_symbols_are_clean_over_five_years(five_years: pd.DataFrame) -> None:
    clean = five_years.loc[five_years["symbol"].isin(CLEAN)]
    sessions = sessions_between(*FIVE_YEARS)
    assert not clean[["open", "high", "low", "close", "volume"]].isna().any().any()
    assert (clean[["open", "high", "low", "close"]] > 0).all().all()
    assert (clean["low"] <= np.minimum(clean["open"], clean["close"])).all()
    assert (np.maximum(clean["open"], clean["close"]) <= clean["high"]).all()
    assert (clean["volume"] > 0).all() and (clean["volume"] == clean["volume"].round()).all()
    assert not clean.duplicated(["symbol", "date"]).any()
    for _, group in clean.groupby("symbol"):
        assert pd.DatetimeIndex(group["date"]).equals(sessions)
        returns = group["close"].pct_change().dropna()
        assert returns.abs().max() < 0.5
        # Under the 50% "probable split" gap as well.
        assert (group["open"] / group["close"].shift()).dropna().between(0.5, 1.5).all()


def robust_z(close: pd.Series, window: int = 60) -> np.ndarray:
    """Modified z-score of each return against the previous `window` returns (median / MAD)."""
    r = close.pct_change().dropna().to_numpy()
    past = sliding_window_view(r[:-1], window)
    med = np.median(past, axis=1)
    mad = np.median(np.abs(past - med[:, None]), axis=1)
    return 0.6745 * (r[window:] - med) / mad


def test_clean_symbols_rarely_look_like_outliers(five_years: pd.DataFrame) -> None:
    counts = {s: int((np.abs(robust_z(_one(five_years, s)["close"])) > 5).sum()) for s in CLEAN}
    # Fat tails (t, df 4) make a 5-MAD day happen about once a year per symbol; a few, never a swarm.
    assert max(counts.values()) <= 10, counts
    assert sum(counts.values()) / (len(CLEAN) * 1200) < 0.01, counts


def test_volatility_is_plausible_per_asset_class(five_years: pd.DataFrame) -> None:
    closes = five_years.loc[five_years["symbol"].isin(CLEAN)].groupby("symbol")["close"]
    vol = closes.apply(lambda c: np.log(c).diff().std() * np.sqrt(252))
    assert vol[["SPY", "QQQ"]].between(0.08, 0.25).all(), vol
    assert vol[CLEAN_EQUITIES].between(0.12, 0.55).all(), vol
    assert vol[["GLD", "USO"]].between(0.10, 0.45).all(), vol
    assert five_years.loc[five_years["symbol"].isin(CLEAN), "close"].between(0.5, 5000).all()


def test_only_exchange_sessions_have_rows(five_years: pd.DataFrame) -> None:
    dates = pd.DatetimeIndex(five_years["date"].unique())
    assert dates.isin(sessions_between(*FIVE_YEARS)).all()
    for holiday in ["2025-12-25", "2025-07-04", "2026-01-01", "2025-11-27"]:
        assert pd.Timestamp(holiday) not in dates
    assert (dates.dayofweek < 5).all()


def test_range_bounds_are_inclusive_and_empty_ranges_are_empty(provider: SampleProvider) -> None:
    frame = provider.fetch_prices(["AAPL"], dt.date(2025, 3, 3), dt.date(2025, 3, 7)).frame
    assert frame["date"].dt.strftime("%m-%d").tolist() == ["03-03", "03-04", "03-05", "03-06", "03-07"]
    assert provider.fetch_prices(["AAPL"], dt.date(2025, 12, 25), dt.date(2025, 12, 25)).frame.empty
    assert provider.fetch_prices([], *DEMO).frame.empty


def test_unknown_symbols_fail_and_the_rest_is_delivered(provider: SampleProvider) -> None:
    calls: list[tuple[int, int]] = []
    result = provider.fetch_prices(["AAPL", "NOPE", "AAPL"], *DEMO, progress=lambda done, total: calls.append((done, total)))
    assert result.failures == {"NOPE": "unknown symbol"}
    assert result.fetched_symbols == ["AAPL"]
    assert (result.stats.calls, result.stats.succeeded) == (1, 1)
    assert calls == [(1, 1)]
    assert set(result.frame.columns) == {"symbol", "date", "open", "high", "low", "close", "volume", "source"}
    assert (result.frame["source"] == "sample").all()


# ---------------------------------------------------------------- faults


def test_every_fault_shows_in_the_demo_window_and_recurring_ones_in_any_year(provider: SampleProvider) -> None:
    demo = provider.fault_events(*DEMO)
    assert set(demo["fault"]) == {
        "missing_day", "split", "reverse_split", "bad_print", "halt", "halt_resume", "listing", "delisting", "no_shares"
    }
    for start in ["2016-02-17", "2019-09-30", "2022-12-01", "2025-11-26"]:
        year = provider.fault_events(pd.Timestamp(start), pd.Timestamp(start) + pd.Timedelta(days=365))
        counts = year["fault"].value_counts()
        assert counts["missing_day"] == 3 and counts["split"] == 1 and counts["reverse_split"] == 1
        assert counts["bad_print"] == 1 and counts["halt"] == 5 and counts["halt_resume"] == 1


def test_missing_days_are_isolated_and_the_only_gaps(provider: SampleProvider, five_years: pd.DataFrame) -> None:
    events = provider.fault_events(*FIVE_YEARS)
    missing = pd.DatetimeIndex(events.loc[events["fault"] == "missing_day", "date"])
    assert len(missing) == 15
    sessions = sessions_between(*FIVE_YEARS)
    have = pd.DatetimeIndex(_one(five_years, FAULTS.missing_days_symbol).index)
    assert sessions.difference(have).equals(missing)
    positions = sessions.get_indexer(missing)
    assert (np.diff(positions) > 1).all()


def test_split_halves_prices_doubles_volume_and_is_undone(
    provider: SampleProvider, clean_provider: SampleProvider, five_years: pd.DataFrame
) -> None:
    sym = FAULTS.split_symbol
    faulty = _one(five_years, sym)
    clean = _one(clean_provider.fetch_prices([sym], *FIVE_YEARS).frame, sym)
    events = provider.fault_events(*FIVE_YEARS)
    forward = pd.DatetimeIndex(events.loc[events["fault"] == "split", "date"])
    reverse = pd.DatetimeIndex(events.loc[events["fault"] == "reverse_split", "date"])
    assert len(forward) == 5 and len(reverse) == 5
    split_on = pd.Series(False, index=faulty.index)
    for a, b in zip(forward, reverse, strict=True):
        split_on |= (faulty.index >= a) & (faulty.index < b)
    ratio = FAULTS.split_ratio
    np.testing.assert_allclose(faulty.loc[split_on, "close"], clean.loc[split_on, "close"] / ratio, atol=0.006)
    np.testing.assert_allclose(faulty.loc[split_on, "volume"], clean.loc[split_on, "volume"] * ratio, atol=1)
    pd.testing.assert_frame_equal(faulty.loc[~split_on].drop(columns="source"), clean.loc[~split_on].drop(columns="source"))
    # The quality checks' signature of a split: a ~50% overnight gap on the split date.
    gap = faulty["open"] / faulty["close"].shift()
    assert gap.loc[forward].between(0.4, 0.6).all() and gap.loc[reverse].between(1.7, 2.3).all()
    # Elsewhere the prices stay valid bars.
    assert (faulty["low"] <= faulty[["open", "close"]].min(axis=1)).all()


def test_split_multiplies_shares(provider: SampleProvider) -> None:
    sym = FAULTS.split_symbol
    shares = provider.fetch_shares([sym], dt.date(2026, 11, 25)).frame.set_index("date")["shares_outstanding"]
    for split, reverse in [("2025-03-17", "2025-09-15"), ("2026-03-16", "2026-09-15")]:
        before = shares.loc[: pd.Timestamp(split) - pd.Timedelta(days=1)].iloc[-1]
        assert shares.loc[split] == pytest.approx(before * FAULTS.split_ratio, rel=1e-9)
        before = shares.loc[: pd.Timestamp(reverse) - pd.Timedelta(days=1)].iloc[-1]
        assert shares.loc[reverse] == pytest.approx(before / FAULTS.split_ratio, rel=1e-9)


def test_bad_print_is_ten_times_the_close_for_one_session(
    provider: SampleProvider, clean_provider: SampleProvider, five_years: pd.DataFrame
) -> None:
    sym = FAULTS.bad_print_symbol
    faulty = _one(five_years, sym)
    clean = _one(clean_provider.fetch_prices([sym], *FIVE_YEARS).frame, sym)
    events = provider.fault_events(*FIVE_YEARS)
    bad = pd.DatetimeIndex(events.loc[events["fault"] == "bad_print", "date"])
    assert bad.strftime("%m-%d").tolist() == ["08-12", "08-14", "08-12", "08-12", "08-12"]
    np.testing.assert_allclose(faulty.loc[bad, "close"], clean.loc[bad, "close"] * FAULTS.bad_print_factor, atol=0.006)
    assert (faulty.loc[bad, "close"] > faulty.loc[bad, "high"]).all()  # an OHLC violation too
    others = ~faulty.index.isin(bad)
    pd.testing.assert_frame_equal(faulty.loc[others].drop(columns="source"), clean.loc[others].drop(columns="source"))
    returns = faulty["close"].pct_change()
    assert (returns.abs() > 0.5).sum() == 2 * len(bad)  # the spike and the reversion


def test_halt_removes_five_sessions_and_resumes_at_a_gap(
    provider: SampleProvider, clean_provider: SampleProvider, five_years: pd.DataFrame
) -> None:
    sym = FAULTS.halt_symbol
    events = provider.fault_events(*FIVE_YEARS)
    halted = pd.DatetimeIndex(events.loc[events["fault"] == "halt", "date"])
    resumes = events.loc[events["fault"] == "halt_resume", "date"]
    assert len(halted) == 25 and len(resumes) == 5
    sessions = sessions_between(*FIVE_YEARS)
    faulty = _one(five_years, sym)
    assert sessions.difference(faulty.index).equals(halted)
    blocks = np.split(sessions.get_indexer(halted), 5)
    assert all((np.diff(b) == 1).all() for b in blocks)
    # Close-to-close log moves match the fault-free series except by the documented gap.
    clean = _one(clean_provider.fetch_prices([sym], *FIVE_YEARS).frame, sym).reindex(faulty.index)
    excess = np.log(faulty["close"]).diff() - np.log(clean["close"]).diff()
    for day in resumes:
        gap = FAULTS.halt_gap if day.year % 2 == 0 else 1 / (1 + FAULTS.halt_gap) - 1
        assert excess.loc[day] == pytest.approx(np.log1p(gap), abs=0.01)
        previous = faulty.index[faulty.index.get_loc(day) - 1]
        overnight = faulty.loc[day, "open"] / faulty.loc[previous, "close"]
        assert overnight == pytest.approx((1 + gap) * clean.loc[day, "open"] / clean.loc[previous, "close"], rel=0.01)
    assert excess.drop(index=resumes).dropna().abs().max() < 0.01


def test_listing_and_delisting(provider: SampleProvider, five_years: pd.DataFrame) -> None:
    listed = _one(five_years, FAULTS.listed_symbol)
    assert listed.index.min() == pd.Timestamp("2025-06-02")
    assert listed.index.equals(sessions_between("2025-06-02", FIVE_YEARS[1]))
    delisted = _one(five_years, FAULTS.delisted_symbol)
    assert delisted.index.max() == pd.Timestamp("2026-03-02")
    assert delisted.index.equals(sessions_between(FIVE_YEARS[0], "2026-03-02"))
    shares = provider.fetch_shares([FAULTS.listed_symbol, FAULTS.delisted_symbol], dt.date(2026, 11, 25)).frame
    assert shares.loc[shares["symbol"] == FAULTS.listed_symbol, "date"].min() == pd.Timestamp("2025-06-02")
    assert shares.loc[shares["symbol"] == FAULTS.delisted_symbol, "date"].max() <= pd.Timestamp("2026-03-02")
    before = provider.fetch_prices([FAULTS.listed_symbol], dt.date(2024, 1, 1), dt.date(2025, 5, 30))
    assert before.frame.empty and before.failures == {}


def test_fault_dates_are_configurable_and_faults_off_the_universe_are_inactive() -> None:
    faults = SampleFaults(
        listed_symbol="AAPL", listing_date=dt.date(2025, 1, 6), delisted_symbol=None, bad_print_symbol="NOT_IN_UNIVERSE"
    )
    other = SampleProvider(UNIVERSE, faults=faults)
    frame = other.fetch_prices(["AAPL", "WBA"], *DEMO).frame
    assert _one(frame, "AAPL").index.min() == pd.Timestamp("2025-01-06")
    assert _one(frame, "WBA").index.max() == pd.Timestamp(DEMO[1])
    events = other.fault_events(*DEMO)
    assert "bad_print" not in set(events["fault"]) and "delisting" not in set(events["fault"])


def test_a_symbol_carries_at_most_one_fault() -> None:
    with pytest.raises(ValueError, match="own symbol"):
        SampleFaults(split_symbol="BA")
    with pytest.raises(ValueError, match="before"):
        SampleFaults(split_day="10-01")


def test_no_fault_provider_is_entirely_clean(clean_provider: SampleProvider) -> None:
    frame = clean_provider.fetch_prices(ALL, *DEMO).frame
    sessions = sessions_between(*DEMO)
    assert len(frame) == len(ALL) * len(sessions)
    assert (frame["close"] <= frame["high"]).all()
    assert frame.groupby("symbol")["close"].apply(lambda c: c.pct_change().abs().max()).max() < 0.5
    assert clean_provider.fault_events(*DEMO).empty


# ---------------------------------------------------------------- shares


def test_shares_are_point_in_time_and_move_a_little_each_quarter(provider: SampleProvider) -> None:
    end = dt.date(2025, 12, 31)
    result = provider.fetch_shares(ALL + ["NOPE"], end)
    frame = result.frame
    assert frame["date"].max() <= pd.Timestamp(end)
    assert (frame["shares_outstanding"] > 0).all()
    assert not frame.duplicated(["symbol", "date"]).any()
    assert set(frame["symbol"]) == set(ALL) - {FAULTS.no_shares_symbol}
    assert set(result.failures) == {"NOPE", FAULTS.no_shares_symbol}
    aapl = frame.loc[frame["symbol"] == "AAPL"].set_index("date")["shares_outstanding"]
    assert aapl.index.min() == pd.Timestamp("2000-01-03")
    recent = aapl.loc["2024":]
    assert recent.index.strftime("%m").tolist() == ["02", "05", "08", "11"] * 2
    assert np.log(aapl).diff().dropna().abs().max() < 0.05
    # Market value at the demo's end is in large-cap territory for equities.
    close = provider.fetch_prices(["AAPL"], dt.date(2025, 12, 31), dt.date(2025, 12, 31)).frame["close"].iloc[0]
    assert 1e9 < close * aapl.iloc[-1] < 1e13


def test_shares_known_later_are_not_returned(provider: SampleProvider) -> None:
    early = provider.fetch_shares(["AAPL"], dt.date(2025, 4, 30)).frame
    late = provider.fetch_shares(["AAPL"], dt.date(2025, 5, 1)).frame
    assert len(late) == len(early) + 1
    assert late["date"].max() == pd.Timestamp("2025-05-01")
    pd.testing.assert_frame_equal(early, late.iloc[:-1])


def test_universe_is_validated() -> None:
    with pytest.raises(ValueError, match="sector"):
        SampleProvider(UNIVERSE.drop(columns="sector"))
    with pytest.raises(ValueError, match="asset_class"):
        SampleProvider(UNIVERSE.assign(asset_class="bond"))
    with pytest.raises(ValueError, match="twice"):
        SampleProvider(pd.concat([UNIVERSE, UNIVERSE.iloc[:1]]))
