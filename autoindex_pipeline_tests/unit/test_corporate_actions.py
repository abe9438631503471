"""Corporate actions (spec section 2a): hand-computed split and dividend cases, price- and
total-return levels day by day, and the equivalence of raw closes + events with adjusted closes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.config import StrategyConfig
from autoindex_pipeline.domain import corporate_actions as ca
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.domain.cleaning import clean_closes, daily_returns
from autoindex_pipeline.domain.index import compute_index
from autoindex_pipeline.domain.strategy import base_date, rebalance_dates, shares_as_of, target_weights

NAN = np.nan
SESSIONS = sessions_between("2024-01-02", "2024-01-08")  # Jan 2, 3, 4, 5, 8
HALF_HALF = pd.DataFrame(
    {"date": pd.to_datetime(["2024-01-02", "2024-01-02"]), "symbol": ["A", "B"], "weight": [0.5, 0.5]}
)


def _events(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["symbol", "ex_date", "kind", "ratio", "amount"])
    return ca.normalise_events(frame.assign(source="test"))


def _adjust(closes: pd.DataFrame, events: pd.DataFrame, ffill: int = 2) -> ca.AdjustedPrices:
    return ca.adjust(closes, events, ffill, -0.5, 0.5)


def _levels(returns: pd.DataFrame) -> list[float]:
    daily, _ = compute_index(returns, HALF_HALF, "2024-01-02")
    return daily["level"].tolist()


def test_two_and_four_for_one_splits_inside_one_holding_period_do_not_move_the_index() -> None:
    # A splits 2:1 on Jan 3 (100 -> 50), B 4:1 on Jan 4 (80 -> 20); both then move on real news.
    closes = pd.DataFrame({"A": [100.0, 50.0, 51.0, 51.0, 51.0], "B": [80.0, 80.0, 20.0, 22.0, 22.0]}, index=SESSIONS)
    events = _events([("A", "2024-01-03", "split", 2.0, NAN), ("B", "2024-01-04", "split", 4.0, NAN)])
    adjusted = _adjust(closes, events)
    # F_A = 1, 2, 2, 2, 2 -> C_A = 100, 100, 102, 102, 102; F_B = 1, 1, 4, 4, 4 -> C_B = 80, 80, 80, 88, 88.
    np.testing.assert_array_equal(adjusted.factors["A"], [1, 2, 2, 2, 2])
    np.testing.assert_array_equal(adjusted.factors["B"], [1, 1, 4, 4, 4])
    np.testing.assert_allclose(adjusted.closes["A"], [100, 100, 102, 102, 102])
    np.testing.assert_allclose(adjusted.closes["B"], [80, 80, 80, 88, 88])
    np.testing.assert_allclose(adjusted.price_returns.iloc[1:], [[0, 0], [0.02, 0], [0, 0.1], [0, 0]], atol=1e-15)
    # The screen reads the raw close: 50 after the split, not 100.
    np.testing.assert_allclose(adjusted.screen_closes["A"], closes["A"])
    np.testing.assert_allclose(adjusted.screen_closes["B"], closes["B"])
    # Jan 3: 100 (the split is no move); Jan 4: A +2% on half -> 101, h_A = .51/1.01;
    # Jan 5: B +10% on h_B = .5/1.01 -> 101 + 5 = 106 (positions 51 + 55); Jan 8: 106.
    expected = [100.0, 100.0, 101.0, 106.0, 106.0]
    np.testing.assert_allclose(_levels(adjusted.price_returns), expected, rtol=1e-14)
    np.testing.assert_allclose(_levels(adjusted.total_returns), expected, rtol=1e-14)
    # Without the events the same raw closes book the -50% and -75% (clipped to -50%) as losses.
    unadjusted = daily_returns(clean_closes(closes, 2), -0.5, 0.5)
    assert _levels(unadjusted)[1] == pytest.approx(75.0)


def test_cash_dividend_on_its_ex_date_price_and_total_return_day_by_day() -> None:
    # A goes ex a 2.00 dividend on Jan 4: the close drops 100 -> 98; B is flat at 50.
    closes = pd.DataFrame({"A": [100.0, 100.0, 98.0, 99.0, 99.0], "B": [50.0] * 5}, index=SESSIONS)
    adjusted = _adjust(closes, _events([("A", "2024-01-04", "dividend", NAN, 2.0)]))
    np.testing.assert_allclose(adjusted.price_returns["A"].iloc[1:], [0.0, -0.02, 99 / 98 - 1, 0.0], atol=1e-15)
    # r_TR on the ex-date = (98 + 2) / 100 - 1 = 0.
    np.testing.assert_allclose(adjusted.total_returns["A"].iloc[1:], [0.0, 0.0, 99 / 98 - 1, 0.0], atol=1e-15)
    # Total return: positions A 50 -> 50 -> 50 * 99 / 98, B 50.
    np.testing.assert_allclose(_levels(adjusted.total_returns), [100, 100, 100, 100 + 50 / 98, 100 + 50 / 98], rtol=1e-14)
    # Price return: A 50 -> 49 -> 49.5 (the dividend is not reinvested), B 50.
    np.testing.assert_allclose(_levels(adjusted.price_returns), [100, 100, 99.0, 99.5, 99.5], rtol=1e-14)


def test_dividend_whose_ex_date_close_is_missing_is_added_on_the_next_valid_close() -> None:
    closes = pd.DataFrame({"A": [100.0, 100.0, NAN, 99.0, 99.0], "B": [50.0] * 5}, index=SESSIONS)
    adjusted = _adjust(closes, _events([("A", "2024-01-04", "dividend", NAN, 2.0)]))
    # Jan 4 is forward-filled (r = 0); Jan 5 books the drop and the dividend: (99 + 2) / 100 - 1.
    np.testing.assert_allclose(adjusted.total_returns["A"].iloc[1:], [0.0, 0.0, 0.01, 0.0], atol=1e-15)
    np.testing.assert_allclose(adjusted.price_returns["A"].iloc[1:], [0.0, 0.0, -0.01, 0.0], atol=1e-15)
    np.testing.assert_allclose(adjusted.dividends["A"], [0, 0, 0, 2.0, 0])


def test_reverse_split_one_for_ten() -> None:
    # A consolidates 1-for-10 on Jan 4 (k = 0.1): 5 -> 50, then +10% to 55.
    closes = pd.DataFrame({"A": [5.0, 5.0, 50.0, 55.0, 55.0], "B": [50.0] * 5}, index=SESSIONS)
    adjusted = _adjust(closes, _events([("A", "2024-01-04", "split", 0.1, NAN)]))
    np.testing.assert_allclose(adjusted.closes["A"], [5.0, 5.0, 5.0, 5.5, 5.5])
    np.testing.assert_allclose(adjusted.screen_closes["A"], [5.0, 5.0, 50.0, 55.0, 55.0])
    np.testing.assert_allclose(adjusted.total_returns["A"].iloc[1:], [0.0, 0.0, 0.1, 0.0], atol=1e-15)
    # Jan 5: +10% on half -> 105.
    np.testing.assert_allclose(_levels(adjusted.total_returns), [100, 100, 100, 105, 105], rtol=1e-14)
    np.testing.assert_allclose(_levels(adjusted.price_returns), [100, 100, 100, 105, 105], rtol=1e-14)


def test_forward_fill_across_a_split_fills_the_adjusted_close() -> None:
    # The ex-date close is missing: the filled close is C (100), not the pre-split P times F (200).
    closes = pd.DataFrame({"A": [100.0, NAN, 51.0]}, index=SESSIONS[:3])
    adjusted = _adjust(closes, _events([("A", "2024-01-03", "split", 2.0, NAN)]))
    np.testing.assert_allclose(adjusted.closes["A"], [100.0, 100.0, 102.0])
    np.testing.assert_allclose(adjusted.total_returns["A"].iloc[1:], [0.0, 0.02], atol=1e-15)


def test_market_cap_is_continuous_across_a_split() -> None:
    closes = pd.DataFrame({"A": [100.0, 50.0, 51.0]}, index=SESSIONS[:3])
    events = _events([("A", "2024-01-03", "split", 2.0, NAN)])
    adjusted = _adjust(closes, events)
    # 1000 shares reported before the split; 2100 reported after it (already post-split).
    shares = pd.DataFrame({"symbol": ["A", "A"], "date": pd.to_datetime(["2023-12-29", "2024-01-04"]),
                           "shares_outstanding": [1000.0, 2100.0]})
    in_c_units = shares_as_of(ca.adjust_shares(shares, events), SESSIONS[:3], ["A"])
    market_cap = in_c_units * adjusted.closes
    # Jan 2: 1000 x 100; Jan 3: 2000 x 50 (the split doubles the old figure); Jan 4: 2100 x 51.
    np.testing.assert_allclose(market_cap["A"], [100_000.0, 100_000.0, 2100 * 51.0])
    # The same as shares adjusted by F[t] / F[d] times the raw close.
    np.testing.assert_allclose((in_c_units * adjusted.factors * adjusted.screen_closes)["A"], market_cap["A"])


def test_events_are_used_only_once_first_seen() -> None:
    events = _events([("A", "2024-01-03", "split", 2.0, NAN)])
    events["first_seen"] = pd.Timestamp("2024-01-03 22:00", tz="UTC")
    assert ca.known_as_of(events, pd.Timestamp("2024-01-03 21:00", tz="UTC")).empty
    assert len(ca.known_as_of(events, pd.Timestamp("2024-01-03 22:00", tz="UTC"))) == 1
    assert len(ca.known_as_of(events, None)) == 1


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("A", "2024-01-03", "spinoff", 2.0, NAN), "row 0, column kind"),
        (("A", "2024-01-03", "split", 0.0, NAN), "row 0, column ratio"),
        (("A", "2024-01-03", "dividend", NAN, -1.0), "row 0, column amount"),
    ],
)
def test_bad_events_name_the_row_and_column(row: tuple, message: str) -> None:
    with pytest.raises(ca.CorporateActionError, match=message):
        _events([row])


def test_no_events_is_bit_identical_to_section_two() -> None:
    closes = pd.DataFrame({"A": [100.0, 50.0, NAN, 51.0, 0.0], "B": [80.0, 81.0, 82.0, 83.0, 84.0]}, index=SESSIONS)
    expected = daily_returns(clean_closes(closes, 2), -0.5, 0.5)
    # Events of other symbols do not count as events of these.
    for events in (ca.empty_events(), _events([("Z", "2024-01-03", "split", 2.0, NAN)])):
        adjusted = _adjust(closes, events)
        pd.testing.assert_frame_equal(adjusted.total_returns, expected)
        pd.testing.assert_frame_equal(adjusted.price_returns, expected)


def _realistic(seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """~300 sessions of random-walk total returns for 12 names plus SPY; returns (total-return
    closes, raw closes, events): splits (2:1, 3:1, 4:1, 1:10) and quarterly dividends of ~0.5%
    for half the names. The raw closes are built forward from the total returns:
    ``C[t] = C[t-1] (1 + g[t]) - D[t] F[t]``, ``P = C / F``, so ``r_TR = g`` by construction."""
    sessions = sessions_between("2022-03-01", "2023-05-05")
    rng = np.random.default_rng(seed)
    symbols = [f"A{i:02d}" for i in range(12)] + ["SPY"]
    growth = rng.standard_normal((len(sessions), len(symbols))) * rng.uniform(0.005, 0.025, len(symbols)) + 0.0003
    growth[0] = 0.0
    start = rng.uniform(20, 400, len(symbols))
    tr_closes = pd.DataFrame(start * np.cumprod(1 + growth, axis=0), index=sessions, columns=symbols)
    rows = [("A00", sessions[40], "split", 2.0, NAN), ("A01", sessions[100], "split", 3.0, NAN),
            ("A02", sessions[150], "split", 4.0, NAN), ("A03", sessions[200], "split", 0.1, NAN),
            ("A00", sessions[220], "split", 2.0, NAN)]
    for j in range(0, 12, 2):
        for q in range(4):
            rows.append((symbols[j], sessions[30 + 63 * q + j], "dividend", NAN, 0.0))
    events = _events(rows)
    factors = ca.split_factors(events, sessions, symbols).to_numpy()
    c = np.empty_like(tr_closes.to_numpy())
    c[0] = start
    div_rows = {(s, pd.Timestamp(d)) for s, d, k, _, _ in rows if k == "dividend"}
    amounts = {}
    for t in range(1, len(sessions)):
        c[t] = c[t - 1] * (1 + growth[t])
        for j, s in enumerate(symbols):
            if (s, sessions[t]) in div_rows:
                paid = 0.005 * c[t - 1, j]  # D * F, in C units
                c[t, j] -= paid
                amounts[(s, sessions[t])] = paid / factors[t, j]
    events.loc[events["kind"] == "dividend", "amount"] = [
        amounts[(s, d)] for s, d in events.loc[events["kind"] == "dividend", ["symbol", "ex_date"]].itertuples(index=False)
    ]
    raw = pd.DataFrame(c / factors, index=sessions, columns=symbols)
    return tr_closes, raw, events


def test_raw_closes_with_events_equal_adjusted_closes_without_events() -> None:
    tr_closes, raw, events = _realistic()
    config = StrategyConfig(rebalance_frequency="monthly", min_price_threshold=1.0)
    dates = rebalance_dates(raw.index, "monthly")

    # (a) a user's split- and dividend-adjusted closes, no events.
    clean_a = clean_closes(tr_closes, config.max_forward_fill_days)
    returns_a = daily_returns(clean_a, config.min_daily_return, config.max_daily_return)
    targets_a = target_weights(clean_a, returns_a, None, config, dates)
    d0 = base_date(targets_a, dates)
    index_a, _ = compute_index(returns_a, targets_a, d0)

    # (b) raw closes and the events (no shares: a market cap from adjusted closes is not a
    # market cap, so that sleeve cannot be part of an equivalence).
    adjusted = ca.adjust(raw, events, config.max_forward_fill_days, config.min_daily_return, config.max_daily_return)
    assert adjusted.price_returns.abs().max().max() < 0.5  # the splits moved nothing
    targets_b = target_weights(adjusted.screen_closes, adjusted.total_returns, None, config, dates)
    index_b, _ = compute_index(adjusted.total_returns, targets_b, base_date(targets_b, dates))

    pd.testing.assert_series_equal(targets_a["symbol"], targets_b["symbol"])
    np.testing.assert_allclose(targets_b["weight"], targets_a["weight"], rtol=0, atol=1e-12)
    assert np.max(np.abs(index_b["level"].to_numpy() / index_a["level"].to_numpy() - 1)) < 1e-9
    # The provider-style back-adjusted history built from (b) is (a) up to its scale.
    back = ca.adjusted_history(raw, events)
    np.testing.assert_allclose((back / back.iloc[-1]).to_numpy(), (tr_closes / tr_closes.iloc[-1]).to_numpy(), rtol=1e-10)
    # And the price-return index of (b) lags the total-return one by the dividends it did not reinvest.
    index_pr, _ = compute_index(adjusted.price_returns, targets_b, base_date(targets_b, dates))
    assert index_pr["level"].iloc[-1] < index_b["level"].iloc[-1]


def test_a_split_adjusted_delivery_goes_back_to_the_raw_scale_with_the_splits_known_then() -> None:
    # A provider serving A after its 2:1 split of Jan 4 halves the bars before it.
    events = _events([("A", "2024-01-04", "split", 2.0, NAN)])
    delivered = pd.DataFrame({"symbol": "A", "date": SESSIONS[:4], "open": [50.0, 50.5, 51.0, 51.0],
                              "close": [50.0, 51.0, 51.0, 52.0], "volume": [200.0, 200.0, 100.0, 100.0]})
    raw = ca.to_raw_scale(delivered, events, pd.Timestamp("2024-01-08"))
    np.testing.assert_allclose(raw["close"], [100.0, 102.0, 51.0, 52.0])
    np.testing.assert_allclose(raw["volume"], [100.0, 100.0, 100.0, 100.0])
    # Fetched before the split, the same rows were not adjusted yet: nothing to undo.
    assert ca.to_raw_scale(delivered, events, pd.Timestamp("2024-01-03")) is delivered
    np.testing.assert_allclose(ca.later_split_factor(events, delivered["symbol"], delivered["date"]), [2, 2, 1, 1])


def test_restatements_are_found_with_their_split_like_ratio() -> None:
    stored = pd.DataFrame({"symbol": ["A", "A", "B"], "date": SESSIONS[:3].tolist()[:2] + [SESSIONS[0]], "close": [100.0, 102.0, 10.0]})
    delivered = stored.assign(close=[50.0, 51.0, 10.01])  # A halved, B within 0.1%
    found = ca.detect_restatements(delivered, stored).set_index("symbol")
    assert found.index.tolist() == ["A"]
    assert found.loc["A", "differing"] == 2 and found.loc["A", "split_like"] == 2.0
    assert found.loc["A", "median_ratio"] == pytest.approx(0.5)
    corrected = stored.assign(close=[100.0, 104.0, 10.0])  # one corrected print, not a split
    one = ca.detect_restatements(corrected, stored).set_index("symbol")
    assert one.loc["A", "differing"] == 1 and np.isnan(one.loc["A", "split_like"])


def test_first_seen_normalised_to_utc_row_by_row_whatever_the_frame_index() -> None:
    # Events read from the warehouse (tz-aware), from a file (text) or by hand (missing: the
    # epoch, known since always); the frame's own index is not the rows' order.
    frame = pd.DataFrame({"symbol": ["B", "A", "C"], "ex_date": ["2024-01-03", "2024-01-02", "2024-01-04"],
                          "kind": ["dividend"] * 3, "amount": [0.1, 0.2, 0.3]}, index=[7, 2, 5])
    aware = pd.to_datetime(["2025-03-01 10:00", None, "2025-03-02 09:30"]).tz_localize("America/New_York")
    for first_seen in (aware, ["2025-03-01T15:00:00Z", None, "2025-03-02T14:30:00+00:00"]):
        out = ca.normalise_events(frame.assign(first_seen=first_seen)).set_index("symbol")["first_seen"]
        assert str(out.dtype).endswith(", UTC]")
        assert out["B"] == pd.Timestamp("2025-03-01 15:00", tz="UTC")
        assert out["A"] == pd.Timestamp(0, tz="UTC")
        assert out["C"] == pd.Timestamp("2025-03-02 14:30", tz="UTC")
    assert (ca.normalise_events(frame)["first_seen"] == pd.Timestamp(0, tz="UTC")).all()
