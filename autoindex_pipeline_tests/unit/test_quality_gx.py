"""The Great Expectations runner: one batch per frame, rows named from GX's own result, the same
findings whether a check is validated alone or with the others, and not a byte of progress bar on
stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.domain import quality as q
from autoindex_pipeline.domain.calendar import sessions_between

SESS = sessions_between("2025-01-02", "2025-02-28")


def frame(n_symbols: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    parts = []
    for k in range(n_symbols):
        close = 50.0 * np.exp(np.cumsum(rng.normal(0, 0.01, len(SESS))))
        open_ = np.r_[close[0], close[:-1]]
        parts.append(
            pd.DataFrame(
                {
                    "symbol": f"S{k}",
                    "date": SESS,
                    "open": open_,
                    "high": np.maximum(open_, close) * 1.01,
                    "low": np.minimum(open_, close) * 0.99,
                    "close": close,
                    "volume": 1e6,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def keys(rows: pd.DataFrame) -> set[tuple[str, str]]:
    return {(s, pd.Timestamp(d).date().isoformat()) for s, d in zip(rows["symbol"], rows["date"])}


@pytest.fixture(scope="module")
def gx():
    from autoindex_pipeline.services import gx as module

    return module


def test_importing_the_package_does_not_import_great_expectations():
    code = "import sys, autoindex_pipeline.services.gx, autoindex_pipeline.reporting.quality; print('great_expectations' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_a_clean_frame_passes_every_expectation(gx):
    result = gx.validate_prices(frame())
    assert result.success and result.rows == 3 * len(SESS)
    assert [r.expectation for r in result.results][:2] == ["expect_column_values_to_not_be_null", "expect_column_values_to_be_between"]
    assert all(r.unexpected_count == 0 and r.offending.empty for r in result.results)
    assert all(o.passed for o in result.outcomes())
    json.dumps(result.to_metadata())


def test_failures_name_their_rows_and_match_the_pure_checks(gx):
    prices = frame()
    prices.loc[3, "close"] = prices.loc[3, "high"] * 10  # close above high
    prices.loc[10, "low"] = -1.0  # non-positive low
    prices.loc[12, "close"] = np.nan  # missing close
    prices.loc[50, "volume"] = -3.0  # negative volume
    prices = pd.concat([prices, prices.iloc[[60]]], ignore_index=True)  # a duplicate key
    result = gx.validate_prices(prices, sample=2)
    assert not result.success
    by_rule = {r.rule: r for r in result.results}
    close_high = by_rule["high >= close"]
    assert not close_high.success and close_high.unexpected_count == 1
    sample, count = close_high.sample()
    assert count == 1 and keys(sample) == {("S0", SESS[3].date().isoformat())}
    assert sample["compared_to"].iloc[0] == pytest.approx(prices.loc[3, "close"])
    assert keys(by_rule["low > 0"].offending) == {("S0", SESS[10].date().isoformat())}
    assert by_rule["low > 0"].offending["value"].iloc[0] == -1.0
    assert keys(by_rule["close present"].offending) == {("S0", SESS[12].date().isoformat())}
    dup = by_rule["unique (symbol, date)"]
    assert dup.unexpected_count == 2 and len(dup.offending) == 2 and dup.complete

    gx_outcomes = {o.name: o for o in result.outcomes()}
    alone = {
        "ohlc_validity": gx.check_ohlc_validity(prices),
        "positive_prices_and_volume": gx.check_positive_prices_and_volume(prices),
        "duplicates": gx.check_duplicates(prices),
    }
    day = {i: SESS[i % len(SESS)].date().isoformat() for i in (3, 10, 12, 50, 60)}  # rows 39+ are S1's
    expected = {
        "ohlc_validity": {("S0", day[3])},  # row 10's low of -1 is below close and open: no OHLC breach
        "positive_prices_and_volume": {("S0", day[10]), ("S0", day[12]), ("S1", day[50])},
        "duplicates": {("S1", day[60])},
    }
    for name, outcome in alone.items():
        assert keys(gx_outcomes[name].offending) == keys(outcome.offending) == expected[name], name
        assert not gx_outcomes[name].passed and gx_outcomes[name].severity == q.ERROR
    rates = gx_outcomes["positive_prices_and_volume"].per_symbol_pass_rate
    assert rates["S0"] == pytest.approx(1 - 2 / len(SESS)) and rates["S2"] == 1.0  # rows 10 and 12; row 50 is S1
    meta = result.to_metadata(n=2)
    json.dumps(meta)
    assert next(e for e in meta["expectations"] if e["rule"] == "high >= close")["offending_sample"][0]["symbol"] == "S0"


def test_sample_provider_faults_through_gx(gx):
    import datetime as dt

    from autoindex_pipeline.config import load_config
    from autoindex_pipeline.providers.prices.sample import SampleProvider

    provider = SampleProvider(load_config().universe_frame, seed=42)
    prices = provider.fetch_prices(["JPM", "NVDA", "KO", "BA", "AAPL"], dt.date(2024, 11, 1), dt.date(2026, 10, 30)).frame
    result = gx.validate_prices(prices)
    failed = {r.rule for r in result.results if not r.success}
    assert failed == {"high >= close"}
    events = provider.fault_events("2024-11-01", "2026-10-30")
    bad = events[events["fault"] == "bad_print"]
    assert keys(result.results[[r.rule for r in result.results].index("high >= close")].offending) == keys(bad)


def test_progress_bars_and_logs_stay_off_stderr(tmp_path):
    """In a fresh interpreter WITHOUT the test suite's TQDM_DISABLE: our validation writes nothing
    to stderr; the same validation with GX's progress bars switched back on does (the control)."""
    script = textwrap.dedent(
        """
        import sys
        import numpy as np, pandas as pd
        from autoindex_pipeline.services import gx
        n = 200
        df = pd.DataFrame({"symbol": "A", "date": pd.bdate_range("2024-01-01", periods=n), "open": 1.0,
                           "high": 1.0, "low": 1.0, "close": np.r_[np.ones(n - 1), 5.0], "volume": 1.0})
        gx.validate_prices(df)
        sys.stderr.flush()
        sys.stderr.write("@@CONTROL@@\\n"); sys.stderr.flush()
        rt = gx._get_runtime()
        rt.context.variables.progress_bars = {"globally": True, "metric_calculations": True}
        gx.validate_prices(df)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    ours, control = out.stderr.split("@@CONTROL@@")
    assert ours == "", ours
    assert "Calculating Metrics" in control
