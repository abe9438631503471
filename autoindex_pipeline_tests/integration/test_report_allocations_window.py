"""The performance reports read the targets of about two months, not of the whole history
(issue 14: the daily run must not grow with history), and are exactly the reports the whole
history's targets give: weekly rebalances over eight months, and a daily-rebalanced stretch at
the end (whose targets on every session make the reports read them as holdings)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.config import load_config
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.domain.index import compute_index
from autoindex_pipeline.domain.performance import _window, detect_weights_kind
from autoindex_pipeline.services import reports
from autoindex_pipeline.services.returns import read_clean_returns
from autoindex_pipeline.warehouse import reports as warehouse_reports
from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.load import replace_prices
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline_tests.conftest import write_config

SYMBOLS = ["AAPL", "MSFT", "XOM", "JPM"]
SESSIONS = sessions_between("2024-11-01", "2025-06-27")


def _prices() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    parts = []
    for symbol in SYMBOLS:
        close = 50.0 * np.exp(np.cumsum(rng.normal(0.0005, 0.012, len(SESSIONS))))
        parts.append(pd.DataFrame({"symbol": symbol, "date": SESSIONS, "open": close, "high": close * 1.01,
                                   "low": close * 0.99, "close": close, "volume": 1e6, "source": "test"}))
    return pd.concat(parts, ignore_index=True)


def _targets(daily_from: pd.Timestamp | None) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    weekly = SESSIONS[::5]
    dates = weekly if daily_from is None else weekly[weekly < daily_from].union(SESSIONS[SESSIONS >= daily_from])
    rows = []
    for date in dates:
        held = SYMBOLS[: 2 + int(rng.integers(0, 3))]  # two to four symbols: the set changes
        weights = rng.dirichlet(np.ones(len(held)))
        rows += [{"date": date, "symbol": s, "weight": float(w)} for s, w in zip(held, weights)]
    return pd.DataFrame(rows)


def _store(engine, config, targets: pd.DataFrame) -> None:
    strat = config.strategies["default"]
    returns = read_clean_returns(engine, config.symbols, SESSIONS, strat.max_forward_fill_days,
                                 strat.min_daily_return, strat.max_daily_return).returns
    daily, _ = compute_index(returns, targets, SESSIONS[0])
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
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


def _built(engine, config, out_dir) -> dict:
    return {
        (r.report.period, r.report.label): (r.report.rows(), r.report.contributor_rows(), r.report.allocation_change_rows(),
                                            r.report.weights_source, r.report.notes)
        for r in reports.build_reports(engine, config, out_dir)
    }


@pytest.mark.parametrize("daily_from", [None, pd.Timestamp("2025-05-27")], ids=["weekly", "daily at the end"])
def test_reports_from_two_months_of_targets_equal_those_from_the_whole_history(warehouse_url, tmp_path, monkeypatch,
                                                                             daily_from):
    config = load_config(write_config(tmp_path, universe={"symbols": SYMBOLS}))
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    replace_prices(engine, _prices(), SYMBOLS, SESSIONS[0].date(), SESSIONS[-1].date())
    targets = _targets(daily_from)
    _store(engine, config, targets)

    read = warehouse_reports.read_allocation_targets
    asked: list[pd.DataFrame] = []

    def recording(*args, **kwargs):
        asked.append(read(*args, **kwargs))
        return asked[-1]

    monkeypatch.setattr(reports, "read_allocation_targets", recording)
    windowed = _built(engine, config, tmp_path / "windowed")
    # Ten days before May 1: from the last weekly rebalance on or before 2025-04-21.
    assert asked[0]["date"].min() == targets.loc[targets["date"] <= pd.Timestamp("2025-04-21"), "date"].max()
    assert len(asked[0]) < len(targets)

    monkeypatch.setattr(reports, "read_allocation_targets",
                        lambda engine, strategy, version, since=None: read(engine, strategy, version))
    whole = _built(engine, config, tmp_path / "whole")
    assert windowed.keys() == whole.keys() and len(whole) == 6
    for key, value in whole.items():
        assert repr(windowed[key]) == repr(value), key
    sources = {source for _, _, _, source, _ in whole.values()}
    assert sources == ({"rebalance allocations drifted with returns"} if daily_from is None
                       else {"rebalance allocations drifted with returns", "drifted holdings"})


def test_the_weights_kind_is_the_one_a_set_of_dates_gives():
    """detect_weights_kind on arrays, as the set of Timestamps it replaced decided."""
    sessions = SESSIONS[:60]
    rng = np.random.default_rng(2)
    for trial in range(40):
        dates = sessions[np.sort(rng.choice(len(sessions), size=int(rng.integers(1, 60)), replace=False))]
        weights = pd.DataFrame({"date": np.repeat(dates, 2), "symbol": "X", "weight": 0.5})
        as_of = sessions[int(rng.integers(1, 60))]
        w = _window(sessions, as_of, ["daily", "weekly", "monthly"][trial % 3])
        have = set(pd.to_datetime(weights["date"]).dt.normalize())
        needed = list(pd.Series(w.sessions[:-1], index=w.sessions[1:]).reindex(w.return_dates).dropna()) + [w.as_of]
        expected = "holdings" if all(d in have for d in needed) else "allocations"
        if not len(w.return_dates):
            expected = "allocations"
        assert detect_weights_kind(weights, w) == expected
