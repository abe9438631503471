"""The CLI summary on a real warehouse (both backends): each strategy beside the benchmark over
its own sessions, the quality lines in the checks' own figures and words (warnings called
warnings), and a closing hint that can be typed as printed (issue 16, findings 3, 4 and 7)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.cli import summary
from autoindex_pipeline.config import load_config
from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline.warehouse.quality import replace_quality_report
from autoindex_pipeline_tests.conftest import write_config

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def warehouse(warehouse_url, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOINDEX_DATABASE_URL", warehouse_url)
    config = load_config(write_config(tmp_path, strategies={
        "default": {"momentum_weight": 0.4, "market_cap_weight": 0.3, "risk_parity_weight": 0.3},
        "late": {"momentum_weight": 0.7, "market_cap_weight": 0.0, "risk_parity_weight": 0.3},
    }))
    engine = create_warehouse_engine(config.database_url())
    upgrade(engine)
    return config, engine


def _index_rows(strategy: str, version: str, dates: pd.DatetimeIndex, returns: np.ndarray, bench: np.ndarray) -> list[dict]:
    levels, bench_levels = 100 * np.cumprod(1 + returns), 100 * np.cumprod(1 + bench)
    return [
        {"strategy": strategy, "version": version, "date": d.date(), "level": float(lv),
         "daily_return": None if i == 0 else float(r), "is_rebalance": i == 0, "benchmark_level": float(bl),
         "benchmark_return": None if i == 0 else float(b), "computed_at": NOW}
        for i, (d, lv, r, bl, b) in enumerate(zip(dates, levels, returns, bench_levels, bench, strict=True))
    ]


def test_each_strategy_is_compared_with_the_benchmark_over_its_own_sessions(warehouse):
    config, engine = warehouse
    dates = pd.bdate_range("2025-01-02", periods=40)
    # The benchmark falls 10% over the default's first 20 sessions, then is flat; the late
    # strategy starts after the fall, so beside it the benchmark is flat (level 100, 0.0%).
    bench = np.r_[0.0, np.full(19, (0.9 ** (1 / 19)) - 1), np.zeros(20)]
    rets = np.r_[0.0, np.full(39, 0.001)]
    late_bench = np.r_[0.0, bench[21:]]
    late_rets = np.r_[0.0, np.full(19, -0.001)]
    with engine.begin() as conn:
        conn.execute(schema.index_values.insert(), _index_rows("default", config.strategies["default"].version, dates, rets, bench))
        conn.execute(schema.index_values.insert(),
                     _index_rows("late", config.strategies["late"].version, dates[20:], late_rets, late_bench))
    lines = summary.index_summary_lines(engine, config)
    text = "\n".join(lines)
    default_at = next(i for i, line in enumerate(lines) if line.strip().startswith("default (from 2025-01-02)"))
    late_at = next(i for i, line in enumerate(lines) if line.strip().startswith(f"late (from {dates[20].date()})"))
    bench_label = f"{config.universe.benchmark} over the same sessions"
    assert bench_label in lines[default_at + 1] and bench_label in lines[late_at + 1], text
    assert lines[default_at + 1].split()[5:7] == ["90.00", "-10.0%"], text
    # The old summary printed the default's benchmark (-10.0%) beside every strategy, so the
    # late strategy (-1.9%) looked better than the benchmark it in fact trailed.
    assert lines[late_at + 1].split()[5:7] == ["100.00", "0.0%"], text
    assert text.count(bench_label) == 2


def test_the_quality_lines_print_each_check_as_it_reports_itself(warehouse):
    config, engine = warehouse
    as_of = dt.date(2026, 12, 1)
    checks = [
        {"check_name": "ohlc_validity", "severity": "ERROR", "passed": True, "observed": 0.0, "threshold": 0.0,
         "offending": 0, "evaluated": 5000, "overridden": 2},
        {"check_name": "return_cap", "severity": "ERROR", "passed": False, "observed": 0.62, "threshold": 0.5,
         "offending": 1, "evaluated": 5000, "overridden": 0},
        {"check_name": "completeness", "severity": "WARN", "passed": False, "observed": 0.75, "threshold": 0.98,
         "offending": 8, "evaluated": 5200, "overridden": 0},
        {"check_name": "robust_z", "severity": "WARN", "passed": False, "observed": 436.0, "threshold": 0.0,
         "offending": 436, "evaluated": 5000, "overridden": 0},
    ]
    run = {"sessions": 252, "portfolio_score": 0.999, "red": 0, "yellow": 1, "green": 12,
           "failed_checks": "return_cap, completeness, robust_z", "computed_at": NOW}
    replace_quality_report(engine, as_of, [], run, checks)
    text = "\n".join(summary.quality_report_lines(engine, config))
    errors, warnings = text.split("  errors")[1].split("  warnings")
    assert errors.startswith("         1 (blocking)") and "return_cap" in errors and "completeness" not in errors, text
    assert "return_cap            ERROR: observed 0.62 vs threshold 0.5, 1 offending of 5,000 evaluated" in errors
    # The completeness figure is the check's (0.75), under "warnings", with the WARN word.
    assert warnings.startswith("       2"), text
    assert "completeness          WARN: observed 0.75 vs threshold 0.98, 8 offending of 5,200 evaluated" in warnings
    assert "robust_z              WARN: observed 436 vs threshold 0, 436 offending" in warnings
    # A passed check (its overridden rows are no failure) is not listed at all.
    assert "ohlc_validity" not in text and "failed checks" not in text


def test_the_coverage_line_is_not_called_completeness(warehouse):
    config, engine = warehouse
    with engine.begin() as conn:
        conn.execute(schema.prices.insert(), [
            {"symbol": s, "date": d.date(), "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0,
             "source": "test", "ingested_at": NOW}
            for s in ("AAPL", "MSFT") for d in pd.bdate_range("2025-06-02", "2025-06-06") if (s, d.day) != ("MSFT", 4)
        ])
    stats = summary.stored.table_stats(engine)["prices"]
    lines = summary.price_lines(engine, config, stats)
    assert lines[-1].startswith("  coverage       rows / sessions of the range: mean 0.9000, min 0.8000 (1 symbols short, e.g. MSFT 0.800")
    assert not any(line.strip().startswith("completeness") for line in lines)


def test_the_closing_hint_names_the_commands_of_this_interpreter(warehouse, monkeypatch):
    config, engine = warehouse
    beside = Path(sys.executable).parent / "dagster"
    assert beside.exists()  # the venv the tests run in
    # The venv's bin/ not on PATH (the README's `.venv/bin/...`): a bare `dagster` would not be
    # found, so the hint names the one beside this interpreter.
    monkeypatch.setenv("PATH", "/nonexistent")
    hint = summary._script("dagster")
    assert hint != "dagster" and (Path.cwd() / hint).resolve() == beside.resolve()
    monkeypatch.setenv("PATH", str(beside.parent))
    assert summary._script("dagster") == "dagster"
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with engine.begin() as conn:
        conn.execute(schema.prices.insert(), [{"symbol": "AAPL", "date": dt.date(2025, 6, 2), "open": 1.0, "high": 1.0,
                                               "low": 1.0, "close": 1.0, "volume": 1.0, "source": "test", "ingested_at": NOW}])
    text = summary.summary_text(config)
    assert f"DAGSTER_HOME={config.data_dir / 'dagster_home'} {hint} dev" in text
