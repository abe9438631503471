"""The sample provider's corporate actions: the split symbol's splits are events that explain its
raw closes, and the payers' dividends are the drop of their raw close on the ex-date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from autoindex_pipeline.domain import corporate_actions as ca
from autoindex_pipeline.domain.cleaning import to_wide
from autoindex_pipeline.providers.prices.sample import SampleFaults, SampleProvider
from autoindex_pipeline_tests.unit.test_sample_provider import ALL, DEMO, UNIVERSE

FAULTS = SampleFaults()


def _provider() -> SampleProvider:
    return SampleProvider(UNIVERSE)


def test_the_split_symbol_publishes_its_forward_and_reverse_splits() -> None:
    provider = _provider()
    events = provider.fetch_corporate_actions(ALL, *DEMO).frame
    splits = events[events["kind"] == "split"]
    faults = provider.fault_events(*DEMO)
    expected = faults[faults["fault"].isin(["split", "reverse_split"])].sort_values("date")
    assert splits["symbol"].unique().tolist() == [FAULTS.split_symbol]
    assert splits["ex_date"].tolist() == expected["date"].tolist()
    assert splits.set_index("ex_date")["ratio"].tolist() == [2.0, 0.5, 2.0, 0.5]


def test_with_its_events_the_split_symbol_has_no_split_move() -> None:
    provider = _provider()
    symbol = FAULTS.split_symbol
    prices = provider.fetch_prices([symbol], *DEMO).frame
    sessions = pd.DatetimeIndex(prices["date"])
    raw = to_wide(prices, sessions)
    events = ca.normalise_events(provider.fetch_corporate_actions([symbol], *DEMO).frame)
    adjusted = ca.adjust(raw, events, 2, -0.5, 0.5)
    assert (raw[symbol].pct_change().abs() > 0.4).sum() == 4  # the raw closes do jump, four times
    assert adjusted.price_returns[symbol].abs().max() < 0.3  # the adjusted ones never do
    np.testing.assert_allclose(adjusted.screen_closes[symbol], raw[symbol])


def test_dividends_are_quarterly_for_about_half_the_clean_equities_and_drop_the_close() -> None:
    provider = _provider()
    events = provider.fetch_corporate_actions(ALL, *DEMO).frame
    dividends = events[events["kind"] == "dividend"]
    payers = sorted(dividends["symbol"].unique())
    default_faults = {s for s in FAULTS.fault_symbols().values() if s is not None}
    assert payers and not set(payers) & default_faults
    assert set(UNIVERSE.set_index("symbol").loc[payers, "asset_class"]) == {"equity"}
    assert (dividends.groupby("symbol").size() == 8).all()  # two years, four a year
    assert (dividends["currency"] == "USD").all() and (dividends["amount"] > 0).all()
    # The close drops by the dividend: the clean provider (no faults) has the same series.
    clean = SampleProvider(UNIVERSE, faults=SampleFaults.none())
    prices = clean.fetch_prices(payers, *DEMO).frame
    wide = to_wide(prices, pd.DatetimeIndex(sorted(prices["date"].unique())))
    normalised = ca.normalise_events(dividends)
    adjusted = ca.adjust(wide, normalised, 2, -0.5, 0.5)
    on_ex = (adjusted.dividends > 0).to_numpy()
    assert on_ex.sum() == len(normalised)
    yield_ = (adjusted.dividends / wide.shift(1)).to_numpy()[on_ex]
    assert ((yield_ > 0.0019) & (yield_ < 0.0081)).all()
    # Total return is the price return plus the yield on the ex-dates, and equal elsewhere.
    diff = (adjusted.total_returns - adjusted.price_returns).to_numpy()
    assert np.nanmax(np.abs(diff[~on_ex])) < 1e-15
    np.testing.assert_allclose(diff[on_ex], yield_, rtol=1e-12)
    # The raw close really drops: the price return on ex-dates is on average below the others.
    assert np.nanmean(adjusted.price_returns.to_numpy()[on_ex]) < np.nanmean(adjusted.price_returns.to_numpy()[~on_ex])


def test_about_half_the_equities_of_the_seed_universe_pay_dividends() -> None:
    universe = pd.read_csv(Path(__file__).resolve().parents[2] / "autoindex_pipeline" / "data" / "universe.csv")
    provider = SampleProvider(universe)
    events = provider.fetch_corporate_actions(universe["symbol"].tolist(), *DEMO).frame
    payers = events.loc[events["kind"] == "dividend", "symbol"].nunique()
    equities = int((universe["asset_class"] == "equity").sum())
    assert 0.4 * equities < payers < 0.6 * equities


def test_corporate_actions_are_deterministic_and_sliced_by_ex_date() -> None:
    a = _provider().fetch_corporate_actions(ALL, *DEMO).frame
    b = _provider().fetch_corporate_actions(ALL, *DEMO).frame
    pd.testing.assert_frame_equal(a, b)
    part = _provider().fetch_corporate_actions(ALL, dt.date(2025, 3, 1), dt.date(2025, 6, 30)).frame
    inside = a[(a["ex_date"] >= "2025-03-01") & (a["ex_date"] <= "2025-06-30")].reset_index(drop=True)
    pd.testing.assert_frame_equal(part, inside)
    unknown = _provider().fetch_corporate_actions(["NOPE"], *DEMO)
    assert unknown.failures == {"NOPE": "unknown symbol"} and unknown.frame.empty
