"""The quality report: a self-contained HTML page with the grid pictures, and the Markdown summary."""

from __future__ import annotations

import base64
import re

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.domain import quality as q
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.reporting import quality as report
from autoindex_pipeline.services.price_checks import run_price_checks

SESS = sessions_between("2025-01-02", "2025-06-30")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def prices_for(symbols: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    parts = []
    for s in symbols:
        close = 20.0 * np.exp(np.cumsum(rng.normal(0, 0.01, len(SESS))))
        open_ = np.r_[close[0], close[:-1]]
        parts.append(pd.DataFrame({"symbol": s, "date": SESS, "open": open_, "high": np.maximum(open_, close) * 1.01,
                                   "low": np.minimum(open_, close) * 0.99, "close": close, "volume": 1e5}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def built():
    symbols = [f"S{i:03d}" for i in range(120)]
    prices = prices_for(symbols)
    # RED0: a month of missing sessions (score red); BAD1: a bad print; GAP2: one missing day.
    prices.loc[prices["symbol"] == "S000", "symbol"] = "RED0"
    prices = prices[~((prices["symbol"] == "RED0") & prices["date"].between(SESS[20], SESS[60]))]
    idx = prices.index[(prices["symbol"] == "S001") & (prices["date"] == SESS[50])]
    prices.loc[idx, "close"] *= 10
    prices = prices[~((prices["symbol"] == "S002") & (prices["date"] == SESS[70]))]
    outcomes = run_price_checks(prices, SESS, as_of=SESS[-1])
    scores = q.quality_scores(outcomes)
    grid = q.daily_quality(prices, SESS, outcomes)
    trend = q.quality_trend(grid, "W")
    return {"outcomes": outcomes, "scores": scores, "grid": grid, "trend": trend}


def images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)]


def test_html_is_self_contained_with_grid_trend_and_failed_checks(built):
    page = report.render_html(built["scores"], built["grid"], built["outcomes"], built["trend"], "Quality <test>", worst_n=10)
    assert page.startswith("<!DOCTYPE html>") and "</html>" in page
    assert "Quality &lt;test&gt;" in page  # escaped
    assert "<script" not in page and "http://" not in page and "https://" not in page  # nothing external
    pictures = images(page)
    assert len(pictures) == 3 and all(p.startswith(PNG_MAGIC) for p in pictures)  # trend, worst, all
    assert "Worst 10 symbols" in page and "All 120 symbols (worst first)" in page
    assert "Red symbols (1)" in page and "RED0" in page
    # Failed checks with their offending rows named.
    assert "completeness" in page and "ohlc_validity" in page and "return_cap" in page
    assert re.search(r"<td>S001</td><td>2025-03-18</td>", page)
    assert "BLOCKED" in page or "may run" in page


def test_worst_first_order_puts_problems_on_top(built):
    order = report.order_worst_first(built["grid"], built["scores"])
    assert order[0] == "RED0"
    assert set(order[:3]) == {"RED0", "S001", "S002"}
    assert len(order) == 120


def test_grid_picture_size_and_granularity(built):
    assert report.auto_freq(60) is None and report.auto_freq(500) == "W" and report.auto_freq(1260) == "M"
    png = base64.b64decode(report.grid_png(built["grid"], list(built["grid"].columns), freq="W", label_rows=False))
    assert png.startswith(PNG_MAGIC)
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert 300 < width < 1700 and 100 < height < 1500


def test_markdown_summary(built):
    scores = built["scores"]
    text = report.render_markdown(scores, built["outcomes"], q.portfolio_score(scores), sample=3)
    assert text.startswith("**Portfolio quality score 0.9")
    assert "allocations may run" in text
    assert "**Red symbols (1):** RED0 (" in text
    assert "| completeness | WARN |" in text and "| ohlc_validity | ERROR |" in text
    assert "| S001 | 2025-03-18 |" in text
    assert "Passed: " in text and "duplicates" in text
    blocked = report.render_markdown(scores, built["outcomes"], 0.5)
    assert "**blocked**" in blocked
