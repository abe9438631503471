"""The ``market_caps`` view (market cap and volume per symbol and session) on a full-size
warehouse, on SQLite and PostgreSQL: is a view fast enough for what users read from it, or does
it need a materialized daily table?

Builds N symbols x Y years of prices and one shares figure per symbol and month, then times what
the `market_cap_data` asset and `autoindex export market_cap_data` read: the latest session
(the asset's metadata), one symbol's whole history, and the whole view.

    python benchmarks/market_caps.py                   # both backends, 500 symbols x 5 years
    python benchmarks/market_caps.py --backend sqlite --symbols 100 --years 1

PostgreSQL: $AUTOINDEX_BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres); the
script creates and drops its own database there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import _pg_url, _recreate_pg_databases

DATABASE = "autoindex_bench_market_caps"


def _frames(symbols: int, years: float):
    import numpy as np
    import pandas as pd

    sessions = pd.bdate_range(end="2025-12-31", periods=int(252 * years))
    names = [f"S{i:04d}" for i in range(symbols)]
    rng = np.random.default_rng(7)
    n = len(sessions)
    closes = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, (symbols, n)), axis=1))
    prices = pd.DataFrame({
        "symbol": np.repeat(names, n), "date": np.tile(sessions, symbols), "close": closes.ravel(),
        "volume": rng.integers(100_000, 5_000_000, symbols * n).astype(float), "source": "bench",
    })
    prices["open"] = prices["high"] = prices["low"] = prices["close"]
    months = pd.date_range(sessions[0], sessions[-1], freq="MS")
    shares = pd.DataFrame({
        "symbol": np.repeat(names, len(months)), "date": np.tile(months, symbols),
        "shares_outstanding": rng.uniform(1e8, 1e10, symbols * len(months)), "source": "bench",
    })
    return names, sessions, prices, shares


def _timed(label: str, fn, repeat: int = 3) -> tuple[float, int]:
    best, rows = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = len(fn())
        best = min(best, time.perf_counter() - started)
    print(f"  {label:<38} {best * 1000:9.1f} ms  {rows:>9,} rows")
    return best, rows


def _prices_alone(engine):
    """What reading the prices' part of the view costs through the same path: the view's
    overhead is the rest."""
    import pandas as pd
    import sqlalchemy as sa

    sql = "SELECT symbol, date, close, volume FROM prices ORDER BY symbol, date"
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(sa.text(sql)).all())


def run_backend(backend: str, symbols: int, years: float) -> None:
    from autoindex_pipeline.warehouse import load
    from autoindex_pipeline.warehouse.engine import create_warehouse_engine
    from autoindex_pipeline.warehouse.market_caps import latest_market_caps, read_market_caps
    from autoindex_pipeline.warehouse.migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        if backend == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'wh.sqlite'}"
        else:
            _recreate_pg_databases([DATABASE])
            url = _pg_url(DATABASE, "postgresql+psycopg")
        engine = create_warehouse_engine(url)
        upgrade(engine)
        names, sessions, prices, shares = _frames(symbols, years)
        started = time.perf_counter()
        load.replace_prices(engine, prices, names, sessions[0].date(), sessions[-1].date())
        load.upsert_shares(engine, shares)
        if backend == "postgres":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        print(f"{backend}: {symbols} symbols x {len(sessions)} sessions = {len(prices):,} prices, "
              f"{len(shares):,} shares figures (loaded in {time.perf_counter() - started:.1f} s)")
        last = sessions[-1].date()
        _timed("latest session (asset metadata)", lambda: latest_market_caps(engine))
        _timed("one session by date", lambda: read_market_caps(engine, start=last, end=last))
        _timed("one symbol, whole history", lambda: read_market_caps(engine, symbols=[names[0]]))
        _timed("one year, all symbols", lambda: read_market_caps(engine, start=last - dt.timedelta(days=365)), 1)
        _timed("whole view (export)", lambda: read_market_caps(engine), 1)
        _timed("baseline: the same rows of prices alone", lambda: _prices_alone(engine), 1)
        engine.dispose()
        create_warehouse_engine.cache_clear()
        if backend == "postgres":
            import sqlalchemy as sa

            admin = sa.create_engine(_pg_url("postgres", "postgresql+psycopg"), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--years", type=float, default=5)
    args = parser.parse_args()
    os.environ.setdefault("AUTOINDEX_PROGRESS", "0")
    for backend in (["sqlite", "postgres"] if args.backend == "both" else [args.backend]):
        run_backend(backend, args.symbols, args.years)


if __name__ == "__main__":
    main()
