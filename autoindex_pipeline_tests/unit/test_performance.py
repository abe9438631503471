"""Performance report figures on a tiny hand-computed index, and the chart / HTML renderers.

The index (two assets, 50/50 at the base date Friday 2024-03-01, rebalanced to 25/75 at the
close of Tuesday 2024-03-05, no costs):

    session     r[A]   r[B]   start weights (A, B)     R_t                     level
    03-04       +10%    0%    0.5, 0.5                 +0.05                   105
    03-05        0%   -10%    0.5238095, 0.4761905     -0.0476190 (= -1/21)    100   rebalance -> 0.25, 0.75
    03-06       -5%    +5%    0.25, 0.75               +0.025                  102.5

Holdings drift through 03-05 to (0.55, 0.45) before the trade, so the turnover at 03-05 is
|0.25 - 0.55| + |0.75 - 0.45| = 0.6. Contributions (w x r summed):
A = 0.05 + 0 - 0.0125 = 0.0375; B = 0 - 1/21 + 0.0375. Holdings after 03-06:
A = 0.25 x 0.95 / 1.025, B = 0.75 x 1.05 / 1.025.
"""

from __future__ import annotations

import datetime as dt
import math
import struct

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.domain.index import benchmark_levels, compute_index
from autoindex_pipeline.domain.performance import period_bounds, period_report
from autoindex_pipeline.reporting.charts import render_chart_png
from autoindex_pipeline.reporting.performance import render_html, render_markdown

SESSIONS = pd.DatetimeIndex(["2024-03-01", "2024-03-04", "2024-03-05", "2024-03-06"])
RETURNS = pd.DataFrame({"A": [np.nan, 0.10, 0.0, -0.05], "B": [np.nan, 0.0, -0.10, 0.05]}, index=SESSIONS)
TARGETS = pd.DataFrame(
    {
        "date": pd.to_datetime(["2024-03-01", "2024-03-01", "2024-03-05", "2024-03-05"]),
        "symbol": ["A", "B", "A", "B"],
        "weight": [0.5, 0.5, 0.25, 0.75],
    }
)
BENCH = pd.Series([np.nan, 0.01, -0.02, 0.01], index=SESSIONS)


@pytest.fixture(scope="module")
def index_daily() -> pd.DataFrame:
    daily, _ = compute_index(RETURNS, TARGETS, "2024-03-01")
    return daily


@pytest.fixture(scope="module")
def bench_daily() -> pd.DataFrame:
    return benchmark_levels(BENCH, "2024-03-01")


def test_the_engine_gives_the_hand_levels(index_daily):
    assert index_daily["level"].tolist() == pytest.approx([100.0, 105.0, 100.0, 102.5], abs=1e-12)


def test_weekly_figures_by_hand(index_daily, bench_daily):
    rep = period_report(index_daily, bench_daily, TARGETS, RETURNS, "weekly", "2024-03-06")
    assert (rep.label, rep.period_start, rep.period_end) == ("2024-W10", dt.date(2024, 3, 4), dt.date(2024, 3, 10))
    assert rep.n_returns == 3 and rep.first_session == dt.date(2024, 3, 4) and not rep.complete
    f = rep.figures
    assert f.loc["total_return", "index"] == pytest.approx(0.025, abs=1e-12)
    assert f.loc["max_drawdown", "index"] == pytest.approx(100 / 105 - 1, abs=1e-12)
    assert f.loc["win_rate", "index"] == pytest.approx(2 / 3)
    assert f.loc["best_day", "index"] == pytest.approx(0.05) and f.loc["worst_day", "index"] == pytest.approx(-1 / 21)
    assert f.loc["turnover", "index"] == pytest.approx(0.6, abs=1e-12)
    assert rep.best_day["index"] == (dt.date(2024, 3, 4), pytest.approx(0.05))
    assert rep.worst_day["index"][0] == dt.date(2024, 3, 5)
    # Benchmark and active.
    bench_total = 1.01 * 0.98 * 1.01 - 1
    assert f.loc["total_return", "benchmark"] == pytest.approx(bench_total, abs=1e-12)
    assert f.loc["total_return", "active"] == pytest.approx(0.025 - bench_total, abs=1e-12)
    assert f.loc["max_drawdown", "benchmark"] == pytest.approx(0.98 - 1, abs=1e-12)
    assert f.loc["win_rate", "benchmark"] == pytest.approx(2 / 3)
    assert math.isnan(f.loc["turnover", "benchmark"])
    # Fewer than 20 returns: the ratio metrics are n/a, never 0.
    for metric in ("cagr", "volatility", "sharpe", "sortino"):
        assert math.isnan(f.loc[metric, "index"]) and math.isnan(f.loc[metric, "benchmark"])
    assert any("at least 20 daily returns" in n for n in rep.notes)


def test_contributors_and_allocation_changes_by_hand(index_daily, bench_daily):
    rep = period_report(index_daily, bench_daily, TARGETS, RETURNS, "weekly", "2024-03-06")
    assert rep.weights_source == "rebalance allocations drifted with returns"
    c = rep.contributors.set_index("symbol")
    assert c.loc["A", "contribution"] == pytest.approx(0.0375, abs=1e-12)
    assert c.loc["B", "contribution"] == pytest.approx(-1 / 21 + 0.0375, abs=1e-12)
    # Arithmetic contributions add up to the summed daily index returns (no costs here).
    assert c["contribution"].sum() == pytest.approx(0.05 - 1 / 21 + 0.025, abs=1e-12)
    assert list(rep.contributors["symbol"]) == ["A", "B"]  # sorted by contribution
    assert c.loc["A", "symbol_return"] == pytest.approx(1.1 * 0.95 - 1, abs=1e-12)
    a = rep.allocation_changes.set_index("symbol")
    assert a.loc["A", "weight_start"] == pytest.approx(0.5) and a.loc["B", "weight_start"] == pytest.approx(0.5)
    assert a.loc["A", "weight_end"] == pytest.approx(0.25 * 0.95 / 1.025, abs=1e-12)
    assert a.loc["B", "change"] == pytest.approx(0.75 * 1.05 / 1.025 - 0.5, abs=1e-12)
    assert list(rep.biggest_increases()["symbol"]) == ["B"] and list(rep.biggest_decreases()["symbol"]) == ["A"]


def test_drifted_holdings_give_the_same_contributions(index_daily, bench_daily):
    # Holdings after each close: what the index engine holds.
    a1, b1 = 0.55 / 1.05, 0.5 / 1.05
    holdings = pd.DataFrame(
        {
            "date": pd.to_datetime(["2024-03-01"] * 2 + ["2024-03-04"] * 2 + ["2024-03-05"] * 2 + ["2024-03-06"] * 2),
            "symbol": ["A", "B"] * 4,
            "weight": [0.5, 0.5, a1, b1, 0.25, 0.75, 0.25 * 0.95 / 1.025, 0.75 * 1.05 / 1.025],
        }
    )
    via_holdings = period_report(index_daily, bench_daily, holdings, RETURNS, "weekly", "2024-03-06")
    via_targets = period_report(index_daily, bench_daily, TARGETS, RETURNS, "weekly", "2024-03-06")
    assert via_holdings.weights_source == "drifted holdings"
    pd.testing.assert_frame_equal(via_holdings.contributors, via_targets.contributors, atol=1e-12)
    pd.testing.assert_frame_equal(via_holdings.allocation_changes, via_targets.allocation_changes, atol=1e-12)


def test_auto_detection_drifts_targets_the_day_after_a_rebalance(index_daily, bench_daily):
    # 03-05 has a target row (the session before 03-06) but 03-06 has none: the targets must be
    # drifted through 03-06, not read as holdings.
    rep = period_report(index_daily, bench_daily, TARGETS, RETURNS, "daily", "2024-03-06")
    assert rep.weights_source == "rebalance allocations drifted with returns"
    a = rep.allocation_changes.set_index("symbol")
    assert a.loc["A", "weight_start"] == pytest.approx(0.25) and a.loc["A", "weight_end"] == pytest.approx(0.2375 / 1.025)
    assert rep.contributors.set_index("symbol").loc["B", "contribution"] == pytest.approx(0.0375)


def test_daily_report_shows_the_day_and_context(index_daily, bench_daily):
    rep = period_report(index_daily, bench_daily, TARGETS, RETURNS, "daily", "2024-03-05")
    assert rep.label == "2024-03-05" and rep.n_returns == 1 and rep.complete
    assert rep.figures.loc["total_return", "index"] == pytest.approx(-1 / 21, abs=1e-12)
    assert rep.figures.loc["turnover", "index"] == pytest.approx(0.6, abs=1e-12)
    ctx = rep.context
    assert ctx.loc["month_to_date", "index"] == pytest.approx(0.0, abs=1e-12)  # 100 -> 105 -> 100
    assert ctx.loc["since_inception", "benchmark"] == pytest.approx(1.01 * 0.98 - 1, abs=1e-12)
    assert math.isnan(ctx.loc["inception_sharpe", "index"])
    md = render_markdown(rep)
    assert "# Daily performance report - default - 2024-03-05" in md
    assert "| Total return | -4.76% | -2.00% | -2.76 pp |" in md
    assert "| Sharpe | n/a | n/a | n/a |" in md
    assert "at least 20 daily returns" in md
    # A weekend as_of falls back to the last session.
    assert period_report(index_daily, bench_daily, TARGETS, RETURNS, "daily", "2024-03-09").as_of == dt.date(2024, 3, 6)


def test_monthly_ratios_follow_the_methodology():
    rng = np.random.default_rng(7)
    sessions = pd.bdate_range("2024-01-31", "2024-03-01")  # base 31 Jan, 21 February weekdays, 1 March
    r = rng.normal(0.001, 0.01, len(sessions) - 1)
    levels = 100 * np.concatenate([[1.0], np.cumprod(1 + r)])
    daily = pd.DataFrame({"date": sessions, "level": levels, "daily_return": np.concatenate([[np.nan], r])})
    rep = period_report(daily, None, None, None, "monthly", "2024-02-29")
    x = r[:-1]  # the February returns (the last one is 1 March)
    assert rep.n_returns == len(x) == 21
    rf = 0.05 / 252
    ex = x - rf
    assert rep.figures.loc["total_return", "index"] == pytest.approx(np.prod(1 + x) - 1, rel=1e-12)
    assert rep.figures.loc["cagr", "index"] == pytest.approx(np.prod(1 + x) ** (252 / len(x)) - 1, rel=1e-12)
    assert rep.figures.loc["volatility", "index"] == pytest.approx(np.std(x, ddof=1) * np.sqrt(252), rel=1e-12)
    assert rep.figures.loc["sharpe", "index"] == pytest.approx(ex.mean() / np.std(ex, ddof=1) * np.sqrt(252), rel=1e-12)
    downside = np.sqrt(np.mean(np.minimum(ex, 0) ** 2)) * np.sqrt(252)
    assert rep.figures.loc["sortino", "index"] == pytest.approx(ex.mean() * 252 / downside, rel=1e-12)
    assert math.isnan(rep.figures.loc["total_return", "benchmark"])
    assert any("No benchmark" in n for n in rep.notes) and any("No holdings" in n for n in rep.notes)


def test_period_bounds_iso_week_across_the_year_end():
    assert period_bounds("2015-01-02", "weekly") == (dt.date(2014, 12, 29), dt.date(2015, 1, 4), "2015-W01")
    assert period_bounds("2024-02-10", "monthly") == (dt.date(2024, 2, 1), dt.date(2024, 2, 29), "2024-02")
    with pytest.raises(ValueError):
        period_bounds("2024-02-10", "yearly")


def test_rows_for_storage(index_daily, bench_daily):
    rep = period_report(index_daily, bench_daily, TARGETS, RETURNS, "weekly", "2024-03-06")
    rows = rep.rows()
    by_metric = {(r["section"], r["metric"]): r for r in rows}
    assert by_metric[("period", "total_return")]["index_value"] == pytest.approx(0.025)
    assert by_metric[("period", "sharpe")]["index_value"] is None  # NULL, not NaN, not 0
    assert {r["label"] for r in rows} == {"2024-W10"}
    assert {r["symbol"] for r in rep.contributor_rows()} == {"A", "B"}
    assert len(rep.allocation_change_rows()) == 2


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_chart_and_html_render(tmp_path, index_daily, bench_daily):
    # A longer series so the chart has something to show.
    rng = np.random.default_rng(3)
    sessions = pd.bdate_range("2023-01-02", periods=260)
    r = pd.Series(rng.normal(0.0004, 0.01, len(sessions)), index=sessions)
    daily = benchmark_levels(r, sessions[0])
    bench = benchmark_levels(r * 0.8 + 0.0001, sessions[0])
    path = render_chart_png(daily, bench, tmp_path / "charts" / "index.png", index_label="AutoIndex", benchmark_label="SPY")
    data = path.read_bytes()
    width, height = _png_size(data)
    assert (width, height) == (1200, 744) and len(data) > 20_000

    rep = period_report(index_daily, bench_daily, TARGETS, RETURNS, "weekly", "2024-03-06")
    page = render_html(rep, path)
    assert page.startswith("<!doctype html>") and "data:image/png;base64," in page
    assert "Weekly performance report" in page and "Contributors" in page
    linked = render_html(rep, path, embed=False)
    assert 'src="index.png"' in linked and "base64" not in linked
