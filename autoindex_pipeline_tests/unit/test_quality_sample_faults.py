"""Every price check over two years of the sample provider: each injected fault is caught by the
right check and by no wrong one, and the clean symbols raise no ERROR.

=============  ======================================  ===========================================
fault          caught by                               not by
=============  ======================================  ===========================================
KO missing     completeness (WARN, months < 0.98)      staleness, return cap, robust z, splits, validity
NVDA split     nothing with its split events recorded;  return cap, robust z, validity, completeness
               probable_splits (ERROR) without them
JPM x10 close  return_cap (ERROR, the print only),     probable_splits (not a 1:10 reverse split),
               ohlc_validity, reconciliation           return cap on the next (normal) session
BA halt        completeness (WARN, May < 0.98)         return cap / robust z on the reopening gap (the return
                                                       spans 6 sessions: undefined, as for the index)
GEV listed     nothing (active range starts there)     completeness
WBA delisted   nothing with its delisting known;       completeness
               staleness without it
MMM no shares  nothing (a shares matter, not prices)   any price check
=============  ======================================  ===========================================

The maths behind the monthly completeness: over this 500-session window BA has 490 valid closes
(0.980, passes a window-wide ">= 0.98") and KO 494 (0.988); per calendar month BA's Mays are
16/21 = 0.762 and 15/20 = 0.750 and each of KO's months with a missing day at most 22/23 = 0.957.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.config import load_config
from autoindex_pipeline.domain import quality as q
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.providers.prices.sample import SampleFaults, SampleProvider
from autoindex_pipeline.services import gx
from autoindex_pipeline.services.price_checks import run_price_checks

FAULTY = ["KO", "NVDA", "JPM", "BA", "GEV", "WBA", "MMM"]
START, END = dt.date(2024, 11, 1), dt.date(2026, 10, 30)


@pytest.fixture(scope="module")
def sample():
    universe = load_config().universe_frame
    provider = SampleProvider(universe, seed=42)
    clean = [s for s in universe["symbol"] if s not in FAULTY][::16][:30]
    symbols = FAULTY + clean
    prices = provider.fetch_prices(symbols, START, END).frame
    history = provider.fetch_prices(symbols, dt.date(2024, 6, 1), START - dt.timedelta(days=1)).frame
    sessions = sessions_between(START, END)
    events = provider.fault_events(START, END)
    actions = provider.fetch_corporate_actions(symbols, START, END).frame
    listing = q.listing_frame({"GEV": provider.faults.listing_date}, {"WBA": provider.faults.delisting_date})
    return {
        "provider": provider, "universe": universe, "symbols": symbols, "clean": clean, "prices": prices,
        "history": history, "sessions": sessions, "events": events, "listing": listing, "actions": actions,
    }


def event_keys(events: pd.DataFrame, *faults: str) -> set[tuple[str, str]]:
    sub = events[events["fault"].isin(faults)]
    return {(s, d.date().isoformat()) for s, d in zip(sub["symbol"], sub["date"])}


def keys(outcome: q.CheckOutcome, severity: str | None = None) -> set[tuple[str, str]]:
    off = outcome.offending if severity is None else outcome.offending[outcome.offending["severity"] == severity]
    return {(s, pd.Timestamp(d).date().isoformat()) for s, d in zip(off["symbol"], off["date"])}


def test_the_window_holds_every_fault(sample):
    assert set(sample["events"]["fault"]) == {
        "missing_day", "split", "reverse_split", "bad_print", "halt", "halt_resume", "listing", "delisting", "no_shares",
    }
    assert len(sample["sessions"]) == 500


def test_completeness_catches_ko_and_ba_only(sample):
    s = sample
    expected = event_keys(s["events"], "missing_day", "halt")
    with_universe = q.check_completeness(s["prices"], s["sessions"], listing=s["listing"], symbols=s["symbols"])
    rows_only = q.check_completeness(s["prices"], s["sessions"])  # first..last row, no listing needed
    for out in (with_universe, rows_only):
        assert not out.passed and out.severity == q.WARN
        assert keys(out) == expected  # every missing session named, GEV and WBA untouched
    per = with_universe.details["per_symbol"].set_index("symbol")
    assert per.loc["BA", "valid"] == 490 and per.loc["BA", "expected"] == 500
    assert per.loc["KO", "valid"] == 494
    assert per.loc["BA", "worst_ratio"] == pytest.approx(15 / 20)  # May 2026 (May 2025: 16 / 21)
    assert per.loc["GEV", "first_date"] == pd.Timestamp("2025-06-02") and per.loc["WBA", "last_date"] == pd.Timestamp("2026-03-02")
    # Over the whole window BA sits exactly on the target: 490 / 500 = 0.98 passes ">= 0.98".
    window = q.check_completeness(s["prices"], s["sessions"], period=None)
    assert window.passed and window.observed == pytest.approx(0.98)
    # Without listing dates but with the universe, GEV and WBA would be called incomplete.
    naive = q.check_completeness(s["prices"], s["sessions"], symbols=s["symbols"])
    assert {sym for sym, _ in keys(naive)} == {"KO", "BA", "GEV", "WBA"}


def test_validity_catches_the_jpm_bad_print_only(sample):
    s = sample
    ohlc = gx.check_ohlc_validity(s["prices"])
    assert keys(ohlc) == event_keys(s["events"], "bad_print")
    assert set(ohlc.offending["reason"]) == {"close above high"}
    assert gx.check_positive_prices_and_volume(s["prices"]).passed
    assert gx.check_duplicates(s["prices"]).passed


def test_outliers_error_only_on_the_bad_print_and_never_on_other_faults(sample):
    s = sample
    out, z = q.check_returns(s["prices"], s["history"])
    assert out.severity == q.ERROR and z.severity == q.WARN
    assert keys(out, q.ERROR) == keys(out) == event_keys(s["events"], "bad_print")
    assert out.details["reversions_excused"] == 2 and out.details["splits_excused"] == 4
    flagged = keys(out) | keys(z)
    bad_print_next = {
        (sym, s["sessions"][s["sessions"].get_loc(pd.Timestamp(d)) + 1].date().isoformat())
        for sym, d in event_keys(s["events"], "bad_print")
    }
    others = event_keys(s["events"], "split", "reverse_split", "halt_resume", "listing", "delisting", "missing_day")
    assert not flagged & (others | bad_print_next)
    # Clean symbols: robust-z warnings only (fat tails), about one per symbol and year.
    clean = pd.concat([out.offending, z.offending])
    clean = clean[clean["symbol"].isin(s["clean"])]
    assert set(clean["severity"]) <= {q.WARN}
    assert 0 < len(clean) / len(s["clean"]) / 2 < 3


def test_probable_splits_are_nvda_only_and_its_recorded_splits_explain_them(sample):
    s = sample
    splits = q.check_probable_splits(s["prices"], s["history"])
    assert splits.severity == q.ERROR
    assert keys(splits) == event_keys(s["events"], "split", "reverse_split")
    reasons = dict(zip(splits.offending["date"].dt.month, splits.offending["reason"]))
    assert reasons[3].startswith("2:1 split-like move with no recorded split") and reasons[9].startswith("1:2 reverse split")
    # With the provider's corporate actions every one of them is explained, and every event matched.
    assert q.check_probable_splits(s["prices"], s["history"], events=s["actions"]).passed
    moves = q.check_corporate_action_moves(s["prices"], s["history"], s["actions"])
    assert moves.passed and moves.evaluated == len(s["actions"])


def test_staleness_passes_with_known_delisting_and_names_wba_without(sample):
    s = sample
    as_of = s["sessions"][-1]
    assert q.check_staleness(s["prices"], as_of, symbols=s["symbols"], listing=s["listing"]).passed
    out = q.check_staleness(s["prices"], as_of, symbols=s["symbols"])
    assert keys(out) == {("WBA", "2026-03-02")}
    # During the halt BA is stale: a daily run on its third halted session says so.
    halt = sorted(s["events"].loc[s["events"]["fault"] == "halt", "date"])[2]
    during = q.check_staleness(s["prices"], halt, symbols=s["symbols"], listing=s["listing"])
    assert {sym for sym, _ in keys(during)} == {"BA"}


def test_reconciliation_against_a_second_source_without_the_bad_print(sample):
    s = sample
    second = SampleProvider(s["universe"], seed=42, faults=SampleFaults(bad_print_symbol=None))
    secondary = second.fetch_prices(s["symbols"], START, END).frame
    sampled = q.check_reconciliation(s["prices"], secondary, sample_size=200, seed=7)
    assert sampled.passed and sampled.details["compared"] == 200
    everything = q.check_reconciliation(s["prices"], secondary, sample_size=None)
    assert keys(everything) == event_keys(s["events"], "bad_print")
    assert everything.offending["value"].min() > 8  # x10: a 900% difference


def test_every_check_together_no_false_alarm_and_the_gate_passes(sample):
    s = sample
    outcomes = run_price_checks(
        s["prices"], s["sessions"], history=s["history"], as_of=s["sessions"][-1], symbols=s["symbols"], listing=s["listing"],
        events=s["actions"],
    )
    names = [o.name for o in outcomes]
    assert names == ["ohlc_validity", "positive_prices_and_volume", "duplicates", "return_cap", "robust_z", "probable_splits",
                     "corporate_action_moves", "completeness", "staleness"]
    errors = pd.concat([o.offending[o.offending["severity"] == q.ERROR] for o in outcomes])
    # KO's and BA's gaps are completeness warnings now; MMM, GEV, WBA and the clean ones: no ERROR.
    assert set(errors["symbol"]) == {"JPM"}
    warned = pd.concat([o.offending for o in outcomes if o.severity == q.WARN])
    assert {"KO", "BA"} <= set(warned["symbol"]) and set(warned["severity"]) == {q.WARN}
    scores = q.quality_scores(outcomes)
    assert set(scores["symbol"]) == set(s["symbols"])
    assert (scores["colour"] == "green").all()  # mean of ~7 pass rates: one fault day is small
    assert q.check_portfolio_score(scores).passed
    grid = q.daily_quality(s["prices"], s["sessions"], outcomes, listing=s["listing"], symbols=s["symbols"])
    rows, cols = np.nonzero(grid.to_numpy() == q.CELL_ERROR)
    red_cells = {(grid.columns[j], grid.index[i].date().isoformat()) for i, j in zip(rows, cols)}
    assert red_cells == event_keys(s["events"], "missing_day", "halt", "bad_print")
    assert grid.loc[: pd.Timestamp("2025-05-30"), "GEV"].isna().all() and grid.loc[pd.Timestamp("2026-03-03"):, "WBA"].isna().all()


def test_partitions_one_session_at_a_time_give_the_same_verdicts(sample):
    s = sample
    prices, sessions = s["prices"], s["sessions"]
    bad_print = pd.Timestamp(sorted(s["events"].loc[s["events"]["fault"] == "bad_print", "date"])[0])
    nxt = sessions[sessions.get_loc(bad_print) + 1]
    history = pd.concat([s["history"], prices[prices["date"] < bad_print]])
    day = prices[prices["date"] == bad_print]
    assert keys(q.check_return_cap(day, history), q.ERROR) == {("JPM", bad_print.date().isoformat())}
    history_next = pd.concat([s["history"], prices[prices["date"] < nxt]])
    assert not keys(q.check_return_cap(prices[prices["date"] == nxt], history_next), q.ERROR)
    missing = pd.Timestamp(sorted(s["events"].loc[s["events"]["fault"] == "missing_day", "date"])[0])
    one = q.check_completeness(prices[prices["date"] == missing], sessions[sessions == missing], symbols=s["symbols"], listing=s["listing"])
    assert keys(one) == {("KO", missing.date().isoformat())}
