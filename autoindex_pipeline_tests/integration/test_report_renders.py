"""Performance reports are drawn again only when what they show changed (issue 14).

A warehouse holds three symbols' prices and an index computed from them, stored up to a cut
session; ``build_reports`` + ``store_reports`` run as the ``performance_reports`` asset does.
Renders are counted by wrapping the chart function (the charts are still drawn). After every
incremental run the stored report rows must equal those of a build from scratch (the
fingerprints dropped and a new folder), so skipping never leaves a stale figure behind.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from autoindex_pipeline.config import load_config
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.domain.index import compute_index
from autoindex_pipeline.domain.performance import period_report
from autoindex_pipeline.services import reports, ui_figures
from autoindex_pipeline.services.returns import read_clean_returns
from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.load import replace_prices
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline.warehouse.reports import REPORT_TABLES, read_allocation_targets, read_index_frame
from autoindex_pipeline_tests.conftest import write_config

HELD = {"AAPL": 0.4, "MSFT": 0.35, "XOM": 0.25}
SESSIONS = sessions_between("2025-04-01", "2025-06-27")
BASE = SESSIONS[0]
REBALANCE = SESSIONS[40]
CUT = pd.Timestamp("2025-06-26")  # a Thursday: the next session (06-27) is in the same week and month
MAY_DAY = pd.Timestamp("2025-05-15")


def _prices(may_factor: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    parts = []
    for symbol in HELD:
        close = 50.0 * np.exp(np.cumsum(rng.normal(0.0005, 0.012, len(SESSIONS))))
        parts.append(pd.DataFrame({"symbol": symbol, "date": SESSIONS, "open": close, "high": close * 1.01,
                                   "low": close * 0.99, "close": close, "volume": 1e6, "source": "test"}))
    prices = pd.concat(parts, ignore_index=True)
    fix = (prices["symbol"] == "AAPL") & (prices["date"] == MAY_DAY)
    prices.loc[fix, ["open", "high", "low", "close"]] *= may_factor
    return prices


def _store_index(engine: sa.Engine, config, end: pd.Timestamp) -> None:
    """The index (and its targets) from the stored prices up to ``end``, replacing what is stored."""
    strat = config.strategies["default"]
    returns = read_clean_returns(engine, config.symbols, SESSIONS, strat.max_forward_fill_days,
                                 strat.min_daily_return, strat.max_daily_return).returns
    targets = pd.DataFrame(
        [{"date": BASE, "symbol": s, "weight": w} for s, w in HELD.items()]
        + [{"date": REBALANCE, "symbol": s, "weight": w} for s, w in zip(HELD, (0.2, 0.3, 0.5))]
    )
    daily, _ = compute_index(returns, targets, BASE, end=end)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        for table in (schema.allocations, schema.index_values):
            conn.execute(table.delete())
        conn.execute(schema.allocations.insert(), [
            {"strategy": "default", "version": strat.version, "date": r.date.date(), "symbol": r.symbol,
             "weight": r.weight, "momentum_weight": 0.0, "market_cap_weight": 0.0, "risk_parity_weight": 0.0,
             "computed_at": now}
            for r in targets.itertuples()
        ])
        conn.execute(schema.index_values.insert(), [
            {"strategy": "default", "version": strat.version, "date": r.date.date(), "level": r.level,
             "daily_return": None if np.isnan(r.daily_return) else r.daily_return, "turnover": r.turnover,
             "cost": r.cost, "is_rebalance": bool(r.is_rebalance), "computed_at": now}
            for r in daily.itertuples()
        ])


@pytest.fixture
def setup(warehouse_url, tmp_path, monkeypatch):
    config = load_config(write_config(tmp_path))
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    replace_prices(engine, _prices(), list(HELD), SESSIONS[0].date(), SESSIONS[-1].date())
    _store_index(engine, config, CUT)
    drawn: list[str] = []
    real = reports.render_chart_png

    def counted(index_daily, benchmark_daily, path, **kwargs):
        drawn.append(reports.Path(path).stem)
        return real(index_daily, benchmark_daily, path, **kwargs)

    monkeypatch.setattr(reports, "render_chart_png", counted)
    return config, engine, tmp_path / "reports", drawn


def _run(engine, config, out_dir, drawn: list[str]) -> set[str]:
    """One performance_reports run: the stems it drew."""
    drawn.clear()
    built = reports.build_reports(engine, config, out_dir)
    reports.store_reports(engine, config, built)
    assert sorted(drawn) == sorted(f"{r.report.period}_{r.report.label}" for r in built if r.rendered)
    return set(drawn)


def _stored(engine) -> dict[str, pd.DataFrame]:
    out = {}
    for kind, table in REPORT_TABLES.items():
        if kind == "renders":
            continue
        with engine.connect() as conn:
            frame = pd.read_sql(sa.select(table), conn).drop(columns=["computed_at"])
        out[kind] = frame.sort_values(list(frame.columns[:6])).reset_index(drop=True)
    return out


def _assert_as_from_scratch(engine, config, tmp_path, drawn) -> None:
    """The stored rows equal those of a build that renders everything."""
    kept = _stored(engine)
    with engine.begin() as conn:
        conn.execute(schema.performance_report_renders.delete())
    _run(engine, config, tmp_path / "scratch", drawn)
    fresh = _stored(engine)
    for kind, frame in fresh.items():
        pd.testing.assert_frame_equal(kept[kind], frame, check_exact=True, obj=kind)


def test_a_run_without_new_data_renders_nothing(setup):
    config, engine, out_dir, drawn = setup
    first = _run(engine, config, out_dir, drawn)
    assert first == {"daily_2025-06-25", "daily_2025-06-26", "weekly_2025-W25", "weekly_2025-W26",
                     "monthly_2025-05", "monthly_2025-06"}
    pages = {p.name: p.stat().st_mtime_ns for p in (out_dir / "default").iterdir()}
    assert _run(engine, config, out_dir, drawn) == set()
    assert {p.name: p.stat().st_mtime_ns for p in (out_dir / "default").iterdir()} == pages
    _assert_as_from_scratch(engine, config, out_dir.parent, drawn)


def test_a_new_session_renders_only_the_current_periods(setup):
    config, engine, out_dir, drawn = setup
    _run(engine, config, out_dir, drawn)
    _store_index(engine, config, SESSIONS[-1])  # 2025-06-27 appended
    # Yesterday's daily report, last week's and last month's are what they were.
    assert _run(engine, config, out_dir, drawn) == {"daily_2025-06-27", "weekly_2025-W26", "monthly_2025-06"}
    _assert_as_from_scratch(engine, config, out_dir.parent, drawn)


def test_a_correction_inside_last_month_renders_that_months_report(setup):
    config, engine, out_dir, drawn = setup
    _run(engine, config, out_dir, drawn)
    may_before = _stored(engine)["figures"].query("label == '2025-05' and section == 'period'")
    corrected = _prices(may_factor=1.05)
    corrected = corrected[(corrected["symbol"] == "AAPL") & (corrected["date"] == MAY_DAY)]
    replace_prices(engine, corrected, ["AAPL"], MAY_DAY.date(), MAY_DAY.date())
    _store_index(engine, config, CUT)
    assert "monthly_2025-05" in _run(engine, config, out_dir, drawn)
    may_after = _stored(engine)["figures"].query("label == '2025-05' and section == 'period'")
    moved = (may_after["index_value"] - may_before["index_value"]).abs()
    assert moved.max() > 1e-4  # the stored May figures are the corrected ones (volatility, best day)
    _assert_as_from_scratch(engine, config, out_dir.parent, drawn)


def test_a_missing_page_is_rendered_again(setup):
    config, engine, out_dir, drawn = setup
    _run(engine, config, out_dir, drawn)
    (out_dir / "default" / "weekly_2025-W25.png").unlink()
    assert _run(engine, config, out_dir, drawn) == {"weekly_2025-W25"}


def test_floating_point_noise_redraws_nothing_a_real_change_does(setup):
    """An index recomputed in full differs from the one extended session by session by ~1e-15
    relative: no report is different for it. A change in the sixth digit is a change."""
    config, engine, out_dir, drawn = setup
    _run(engine, config, out_dir, drawn)
    t = schema.index_values
    with engine.begin() as conn:
        conn.execute(t.update().values(level=t.c.level * (1 + 4e-16)))
    assert _run(engine, config, out_dir, drawn) == set()
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.date == CUT.date()).values(level=t.c.level * (1 + 1e-5)))
    assert {"daily_2025-06-26", "weekly_2025-W26", "monthly_2025-06"} <= _run(engine, config, out_dir, drawn)


def test_last_months_report_drifts_from_its_rebalance_whatever_the_day(setup):
    """May's start weights are April 1's targets drifted through April: the returns must be read
    from there. (Read from ten days before May, May's contributors and allocation changes were
    those of an April half missing, and changed with the day the report was computed.)"""
    config, engine, out_dir, drawn = setup
    strat = config.strategies["default"]
    built = {(r.report.period, r.report.label): r.report for r in reports.build_reports(engine, config, out_dir)}
    index = read_index_frame(engine, "default", strat.version)
    returns = read_clean_returns(engine, config.symbols, SESSIONS, strat.max_forward_fill_days,
                                 strat.min_daily_return, strat.max_daily_return).returns
    bench = index.loc[:, ["date", "benchmark_level", "benchmark_return"]].rename(
        columns={"benchmark_level": "level", "benchmark_return": "daily_return"})
    may = period_report(index.loc[:, ["date", "level", "daily_return", "turnover", "is_rebalance"]],
                        None if bench["level"].isna().all() else bench, read_allocation_targets(engine, "default", strat.version),
                        returns, "monthly", pd.Timestamp("2025-05-30"), strategy="default",
                        risk_free_rate=strat.risk_free_rate, calendar=config.prices.calendar)
    assert pd.DataFrame(built[("monthly", "2025-05")].allocation_change_rows()).equals(pd.DataFrame(may.allocation_change_rows()))
    assert pd.DataFrame(built[("monthly", "2025-05")].contributor_rows()).equals(pd.DataFrame(may.contributor_rows()))


def test_the_ui_chart_of_the_same_rows_is_drawn_once_per_process(setup, monkeypatch):
    """index_values and performance_reports both show it within one run: drawn for the first."""
    config, engine, out_dir, drawn = setup
    calls: list[str] = []
    real = ui_figures.chart_markdown

    def counted(*args, **kwargs):
        calls.append(kwargs["title"])
        return real(*args, **kwargs)

    monkeypatch.setattr(ui_figures, "chart_markdown", counted)
    monkeypatch.setattr(ui_figures, "_DRAWN", {})  # another test may have drawn the same rows
    first = ui_figures.index_figures(engine, config).charts
    again = ui_figures.index_figures(engine, config).charts
    assert len(calls) == 1 and again == first and first["default"].startswith("![default vs")
    t = schema.index_values
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.date == CUT.date()).values(level=t.c.level * 1.01))
    assert ui_figures.index_figures(engine, config).charts["default"] != first["default"] and len(calls) == 2
