"""Great Expectations is imported without scipy.stats (issue 14: about a second of every
process's GX import), and scipy.stats still works for whoever reads it afterwards. A fresh
interpreter each: the test process may have imported scipy already."""

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def test_the_gx_checks_run_without_importing_scipy_stats():
    out = _run("""
        import sys
        import pandas as pd
        from autoindex_pipeline.services.gx import validate_prices
        frame = pd.DataFrame({"symbol": ["AAPL", "MSFT"], "date": pd.Timestamp("2025-06-02"), "open": [10.0, 20.0],
                              "high": [11.0, 19.0], "low": [9.0, 18.0], "close": [10.5, 19.5], "volume": 1.0})
        failed = sorted(o.name for o in validate_prices(frame).outcomes() if not o.passed)
        print(failed, "scipy.optimize" in sys.modules, type(sys.modules["scipy.stats"]).__name__)
    """)
    # MSFT opens above its high: the checks ran; scipy's heavy modules were never imported.
    assert out == "['ohlc_validity'] False _DeferredModule"


def test_scipy_stats_read_after_gx_is_the_real_module():
    out = _run("""
        import sys
        from autoindex_pipeline.services import gx
        gx._get_runtime()
        from scipy import stats
        from scipy.stats import norm
        import scipy.stats as again
        print(round(stats.entropy([0.5, 0.5], [0.25, 0.75]), 6), norm.cdf(0.0), type(sys.modules["scipy.stats"]).__name__,
              again.kstest is stats.kstest)
    """)
    assert out == "0.143841 0.5 module True"
