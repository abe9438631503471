"""Performance reports read prices the way the index does: an audited ``exclude`` override on a
bad print removes that print from the report's contributors exactly as from the index.

Two SQLite warehouses hold the same index and allocations; one has a bad AAPL print with an
``exclude`` override on it, the other simply lacks that row. The reports built from each must
have the same contributors. A third computation, from the raw closes (what the reports read
before they shared ``services.returns.read_clean_returns``), shows the print does move the
contributors, so the equality is not vacuous.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from autoindex_pipeline.config import load_config
from autoindex_pipeline.domain import cleaning
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.domain.index import compute_index
from autoindex_pipeline.services import reports
from autoindex_pipeline.services.returns import read_clean_returns
from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.load import replace_prices
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline.warehouse.overrides import set_override
from autoindex_pipeline.warehouse.read import read_closes
from autoindex_pipeline_tests.conftest import write_config

HELD = {"AAPL": 0.4, "MSFT": 0.35, "XOM": 0.25}
SESSIONS = sessions_between("2025-04-01", "2025-06-27")
BASE = SESSIONS[0]
REBALANCE = SESSIONS[40]
BAD_DAY = pd.Timestamp("2025-06-12")  # inside the newest month and week the reports cover


def _prices(with_bad_print: bool) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    parts = []
    for symbol in HELD:
        close = 50.0 * np.exp(np.cumsum(rng.normal(0.0005, 0.012, len(SESSIONS))))
        frame = pd.DataFrame({"symbol": symbol, "date": SESSIONS, "open": close, "high": close * 1.01,
                              "low": close * 0.99, "close": close, "volume": 1e6, "source": "test"})
        parts.append(frame)
    prices = pd.concat(parts, ignore_index=True)
    bad = (prices["symbol"] == "AAPL") & (prices["date"] == BAD_DAY)
    if with_bad_print:
        prices.loc[bad, ["close", "high"]] *= 1.3  # a fat finger: +30% for one session, within the clip
        return prices
    return prices[~bad]


def _warehouse(tmp_path, name: str, with_bad_print: bool) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / name}")
    upgrade(engine)
    replace_prices(engine, _prices(with_bad_print), list(HELD), SESSIONS[0].date(), SESSIONS[-1].date())
    return engine


def _store_index(engine: sa.Engine, strategy: str, version: str, returns: pd.DataFrame) -> None:
    targets = pd.DataFrame(
        [{"date": BASE, "symbol": s, "weight": w} for s, w in HELD.items()]
        + [{"date": REBALANCE, "symbol": s, "weight": w} for s, w in zip(HELD, (0.2, 0.3, 0.5))]
    )
    daily, _ = compute_index(returns, targets, BASE)
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(schema.allocations.insert(), [
            {"strategy": strategy, "version": version, "date": r.date.date(), "symbol": r.symbol, "weight": r.weight,
             "momentum_weight": 0.0, "market_cap_weight": 0.0, "risk_parity_weight": 0.0, "computed_at": now}
            for r in targets.itertuples()
        ])
        conn.execute(schema.index_values.insert(), [
            {"strategy": strategy, "version": version, "date": r.date.date(), "level": r.level,
             "daily_return": None if np.isnan(r.daily_return) else r.daily_return, "turnover": r.turnover,
             "cost": r.cost, "is_rebalance": bool(r.is_rebalance), "computed_at": now}
            for r in daily.itertuples()
        ])


def _contributors(rendered: list[reports.RenderedReport]) -> dict[tuple[str, str], pd.DataFrame]:
    return {(r.report.period, r.report.label): r.report.contributors for r in rendered}


def _raw_clean_returns(engine, symbols, sessions, max_ffill, lo, hi) -> SimpleNamespace:
    """The reports' reading before the fix (git show cda5bab^:autoindex_pipeline/services/reports.py):
    stored closes cleaned as they are, overrides ignored."""
    closes = read_closes(engine, symbols=symbols, start=sessions[0], end=sessions[-1])
    clean = cleaning.clean_closes(cleaning.to_wide(closes, sessions).reindex(columns=list(symbols)), max_ffill)
    return SimpleNamespace(returns=cleaning.daily_returns(clean, lo, hi))


@pytest.fixture
def setup(tmp_path, monkeypatch):
    config = load_config(write_config(tmp_path))
    strat = config.strategies["default"]
    overridden = _warehouse(tmp_path, "overridden.sqlite", with_bad_print=True)
    set_override(overridden, "AAPL", BAD_DAY.date(), "exclude", "fat-finger print, confirmed with the exchange", "analyst")
    without = _warehouse(tmp_path, "without.sqlite", with_bad_print=False)
    # The index both warehouses hold: computed as the index asset does, so it ignores the print.
    returns = read_clean_returns(without, config.symbols, SESSIONS, strat.max_forward_fill_days,
                                 strat.min_daily_return, strat.max_daily_return).returns
    for engine in (overridden, without):
        _store_index(engine, "default", strat.version, returns)
    return config, overridden, without, tmp_path


def test_an_excluded_print_leaves_the_contributors_as_without_it(setup, monkeypatch):
    config, overridden, without, tmp_path = setup
    with_override = _contributors(reports.build_reports(overridden, config, tmp_path / "a"))
    reference = _contributors(reports.build_reports(without, config, tmp_path / "b"))
    assert set(with_override) == set(reference) and ("monthly", "2025-06") in reference
    for key, frame in reference.items():
        pd.testing.assert_frame_equal(with_override[key], frame, check_exact=False, atol=1e-15, obj=str(key))

    # Read raw, the print does change June's contributors: the assertions above can fail.
    monkeypatch.setattr(reports, "read_clean_returns", _raw_clean_returns)
    raw = _contributors(reports.build_reports(overridden, config, tmp_path / "c"))
    june = raw[("monthly", "2025-06")].set_index("symbol")["contribution"]
    clean = reference[("monthly", "2025-06")].set_index("symbol")["contribution"]
    assert abs(june["AAPL"] - clean["AAPL"]) > 1e-3  # 38 bp here; the tolerance above is 1e-15
