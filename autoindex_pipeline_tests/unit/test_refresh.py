import pandas as pd

from autoindex_pipeline.domain.calendar import session_close_utc, sessions_between
from autoindex_pipeline.domain.refresh import catch_up_plan, contiguous_ranges, smart_refresh_plan


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


# --------------------------------------------------------------------------------------------
# Catch-up


def _held(sessions, symbols, drop=()):
    """Stored closes of every symbol on every session, minus the (symbol, date) pairs in drop."""
    rows = [(s, d) for s in symbols for d in sessions if (s, d.strftime("%Y-%m-%d")) not in set(drop)]
    return pd.DataFrame(rows, columns=["symbol", "date"])


NO_ABSENCES = pd.DataFrame(columns=["symbol", "date_from", "date_to", "kind"])


def _plan(sessions, symbols, held, absences=NO_ABSENCES, first=None, ingested=None, **kwargs):
    closes = pd.Series([session_close_utc(s) for s in sessions], index=sessions)
    ingested = closes + pd.Timedelta(hours=2) if ingested is None else ingested
    first = pd.Series({s: sessions[0] for s in symbols}) if first is None else first
    return catch_up_plan(sessions, symbols, first, held, absences, ingested, closes, **kwargs)


def _requests(plan):
    return [(r.start.strftime("%m-%d"), r.end.strftime("%m-%d"), r.symbols, r.reason) for r in plan.requests]


SYMBOLS = ["AAA", "BBB", "CCC", "DDD"]


def test_catch_up_after_an_outage_and_a_symbol_hole_fills_exactly_those():
    sessions = sessions_between("2025-03-03", "2025-03-21")  # 15 sessions
    outage = [(s, d) for s in SYMBOLS for d in ("2025-03-17", "2025-03-18", "2025-03-19")]
    hole = [("BBB", d) for d in ("2025-03-05", "2025-03-06", "2025-03-07")]
    plan = _plan(sessions, SYMBOLS, _held(sessions, SYMBOLS, outage + hole))
    assert _requests(plan) == [
        ("03-05", "03-07", ("BBB",), "symbol_holes"),
        ("03-17", "03-19", None, "missing"),
    ]
    assert [r.credits for r in plan.requests] == [1, 4]
    assert plan.deferred == () and not plan.complete
    assert plan.holes["BBB"].strftime("%m-%d").tolist() == ["03-05", "03-06", "03-07", "03-17", "03-18", "03-19"]
    assert plan.whole_sessions.strftime("%m-%d").tolist() == ["03-17", "03-18", "03-19"]


def test_one_hole_among_many_symbols_is_found_where_the_session_count_would_not_see_it():
    sessions = sessions_between("2025-03-03", "2025-03-07")
    symbols = [f"S{i:03d}" for i in range(513)]
    plan = _plan(sessions, symbols, _held(sessions, symbols, [("S007", "2025-03-05")]))
    assert _requests(plan) == [("03-05", "03-05", ("S007",), "symbol_holes")]
    # 512 of 513 is above min_symbol_coverage: the session-level smart refresh sees nothing.
    coverage = _held(sessions, symbols, [("S007", "2025-03-05")]).groupby("date").size().rename("symbols").reset_index()
    coverage["first_ingested_at"] = pd.Timestamp("2026-01-01", tz="UTC")
    closes = pd.Series([session_close_utc(s) for s in sessions], index=sessions)
    assert smart_refresh_plan(sessions, coverage, 513, 0.98, closes) == []


def test_delisted_symbol_after_its_delisting_is_not_a_hole_nor_a_halt():
    sessions = sessions_between("2025-03-03", "2025-03-14")
    gone = [("DDD", d.strftime("%Y-%m-%d")) for d in sessions if d >= pd.Timestamp("2025-03-10")]
    halted = [("CCC", "2025-03-05"), ("CCC", "2025-03-06")]
    absences = pd.DataFrame({
        "symbol": ["DDD", "CCC"], "kind": ["delisted", "halt"],
        "date_from": pd.to_datetime(["2025-03-10", "2025-03-05"]), "date_to": [pd.NaT, pd.Timestamp("2025-03-06")],
    })
    plan = _plan(sessions, SYMBOLS, _held(sessions, SYMBOLS, gone + halted), absences)
    assert plan.complete and plan.holes == {}
    # Without the absences rows the same warehouse has holes.
    assert _requests(_plan(sessions, SYMBOLS, _held(sessions, SYMBOLS, gone + halted))) == [
        ("03-05", "03-06", ("CCC",), "symbol_holes"),
        ("03-10", "03-14", ("DDD",), "symbol_holes"),
    ]


def test_whole_sessions_after_a_delisting_ask_only_for_the_live_symbols():
    sessions = sessions_between("2025-03-03", "2025-03-14")
    gone = [("DDD", d.strftime("%Y-%m-%d")) for d in sessions if d >= pd.Timestamp("2025-03-10")]
    outage = [(s, "2025-03-12") for s in ("AAA", "BBB", "CCC")]
    absences = pd.DataFrame({"symbol": ["DDD"], "kind": ["delisted"], "date_from": pd.to_datetime(["2025-03-10"]),
                             "date_to": [pd.NaT]})
    plan = _plan(sessions, SYMBOLS, _held(sessions, SYMBOLS, gone + outage), absences)
    assert _requests(plan) == [("03-12", "03-12", ("AAA", "BBB", "CCC"), "missing")]
    assert plan.requests[0].credits == 3


def test_a_symbol_never_fetched_is_active_from_the_configured_start_and_a_late_listing_from_its_first_close():
    sessions = sessions_between("2025-03-03", "2025-03-07")
    held = _held(sessions, ["AAA", "BBB"]).query("not (symbol == 'BBB' and date < '2025-03-05')")
    first = pd.Series({"AAA": sessions[0], "BBB": pd.Timestamp("2025-03-05"), "NEW": pd.NaT})
    plan = _plan(sessions, ["AAA", "BBB", "NEW"], held, first=first)
    assert _requests(plan) == [("03-03", "03-07", ("NEW",), "symbol_holes")]


def test_premature_sessions_are_re_fetched_whole():
    sessions = sessions_between("2025-03-03", "2025-03-07")
    closes = pd.Series([session_close_utc(s) for s in sessions], index=sessions)
    ingested = closes + pd.Timedelta(hours=2)
    ingested.loc["2025-03-07"] = closes.loc["2025-03-07"] - pd.Timedelta(hours=1)
    plan = _plan(sessions, SYMBOLS, _held(sessions, SYMBOLS), ingested=ingested)
    assert _requests(plan) == [("03-07", "03-07", None, "premature")]


def test_requests_fit_the_credit_budget_and_the_rest_is_deferred():
    sessions = sessions_between("2025-03-03", "2025-03-14")
    outage = [(s, d) for s in SYMBOLS for d in ("2025-03-04", "2025-03-05")]
    holes = [("AAA", "2025-03-12"), ("BBB", "2025-03-12")]
    plan = _plan(sessions, SYMBOLS, _held(sessions, SYMBOLS, outage + holes), credit_budget=3)
    assert _requests(plan) == [("03-04", "03-05", ("AAA", "BBB", "CCC"), "missing")]
    assert [(r.symbols, r.credits) for r in plan.deferred] == [(("DDD",), 1), (("AAA", "BBB"), 2)]
    assert sum(r.credits for r in plan.requests) <= 3
    unlimited = _plan(sessions, SYMBOLS, _held(sessions, SYMBOLS, outage + holes))
    assert [r.credits for r in unlimited.requests] == [4, 2] and unlimited.deferred == ()


def test_run_keys_are_stable_for_the_same_work_and_differ_for_other_work():
    sessions = sessions_between("2025-03-03", "2025-03-07")
    drop = [("AAA", "2025-03-04")]
    one = _plan(sessions, SYMBOLS, _held(sessions, SYMBOLS, drop)).requests[0]
    again = _plan(sessions, SYMBOLS, _held(sessions, SYMBOLS, drop)).requests[0]
    other = _plan(sessions, SYMBOLS, _held(sessions, SYMBOLS, [("BBB", "2025-03-04")])).requests[0]
    assert one.run_key == again.run_key == "catch-up-2025-03-04-2025-03-04-1-" + one.run_key.rsplit("-", 1)[1]
    assert other.run_key != one.run_key


def test_a_complete_warehouse_plans_nothing():
    sessions = sessions_between("2025-03-03", "2025-03-07")
    assert _plan(sessions, SYMBOLS, _held(sessions, SYMBOLS)).complete
    assert _plan(sessions, SYMBOLS, _held(sessions, []), known_complete=set(SYMBOLS)).complete


def test_credit_budget_leaves_the_daily_run_its_credits_and_shares_the_rest():
    from autoindex_pipeline.config import AutoIndexConfig
    from autoindex_pipeline.services.refresh import credit_budget

    free = AutoIndexConfig(providers={"prices": "twelvedata"})
    assert len(free.symbols) == 513
    # 800 - 513 = 287; shares cannot fit 8 credits a minute, so all of it to the two catch-up ticks.
    assert (credit_budget(free).catch_up_per_tick, credit_budget(free).shares_per_run) == (143, None)
    paid = AutoIndexConfig(providers={"prices": "twelvedata", "twelvedata": {"credits_per_minute": 610,
                                                                            "credits_per_day": 10_513}})
    assert (credit_budget(paid).catch_up_per_tick, credit_budget(paid).shares_per_run) == (2500, 5000)
    sample = AutoIndexConfig(providers={"prices": "sample", "shares": "twelvedata",
                                        "twelvedata": {"credits_per_minute": 60, "credits_per_day": 120}})
    assert (credit_budget(sample).catch_up_per_tick, credit_budget(sample).shares_per_run) == (None, 120)
