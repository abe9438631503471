"""Cost of the price revisions (issue 13) on the warehouse write path and the as-of read, on SQLite
and PostgreSQL, without Dagster: ``load.replace_prices`` of N years x S symbols from the sample
provider into an empty warehouse (every key a new revision), the same delivery again (unchanged:
no revision), the same with 1 % of the closes corrected (those revisions only), a daily write
(one session of the universe, changed), then ``read_closes`` of everything now and as of before
the correction.

    python benchmarks/revisions.py                       # both backends, 5 years x 513 symbols
    python benchmarks/revisions.py --backend sqlite --years 1

Run it from a checkout before the revisions (``PYTHONPATH=<that checkout>``) to get the "before"
figures: the as-of read is then skipped. PostgreSQL: $AUTOINDEX_BENCH_PG_URL (default
postgresql://postgres@127.0.0.1:5432/postgres); it creates and drops its own database there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import os
import tempfile
import time
from pathlib import Path

PG_ADMIN_URL = os.environ.get("AUTOINDEX_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = "autoindex_bench_revisions"


def _pg_url(database: str) -> str:
    import sqlalchemy as sa

    return sa.engine.make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=database).render_as_string(
        hide_password=False)


def _recreate(drop_only: bool = False) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(_pg_url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        if not drop_only:
            conn.exec_driver_sql(f'CREATE DATABASE "{DATABASE}"')
    admin.dispose()


def _timed(label: str, results: dict, fn):
    started = time.perf_counter()
    value = fn()
    results[label] = round(time.perf_counter() - started, 2)
    return value


def run(backend: str, years: float, tmp: Path) -> dict:
    import pandas as pd

    from autoindex_pipeline.config import load_config
    from autoindex_pipeline.domain.calendar import last_closed_session
    from autoindex_pipeline.providers.prices.sample import SampleProvider
    from autoindex_pipeline.warehouse import load, read
    from autoindex_pipeline.warehouse.engine import create_warehouse_engine
    from autoindex_pipeline.warehouse.migrate import upgrade

    if backend == "postgres":
        _recreate()
        url = _pg_url(DATABASE)
    else:
        url = f"sqlite:///{tmp / 'revisions.sqlite'}"
    engine = create_warehouse_engine(url)
    upgrade(engine)
    config = load_config(None)
    end = last_closed_session(calendar=config.prices.calendar).date()
    start = (pd.Timestamp(end) - pd.DateOffset(days=round(365.25 * years))).date()
    frame = SampleProvider(config.universe_frame, seed=config.providers.sample.seed).fetch_prices(
        config.symbols, start, end).frame
    symbols = sorted(frame["symbol"].unique())
    results: dict = {"backend": backend, "rows": len(frame), "symbols": len(symbols)}
    first, second, third = (dt.datetime(2026, 1, d, 22, tzinfo=dt.UTC) for d in (5, 6, 7))
    _timed("first_write_s", results, lambda: load.replace_prices(engine, frame, symbols, start, end, ingested_at=first))
    _timed("unchanged_rewrite_s", results,
           lambda: load.replace_prices(engine, frame, symbols, start, end, ingested_at=second))
    corrected = frame.copy()
    picked = corrected.sample(frac=0.01, random_state=0).index
    corrected.loc[picked, "close"] = corrected.loc[picked, "close"] * 1.01
    written = _timed("one_percent_corrected_s", results,
                     lambda: load.replace_prices(engine, corrected, symbols, start, end, ingested_at=third))
    results["revisions_of_the_correction"] = getattr(written, "revisions", None)
    # The daily write: one session of the whole universe into the stored history (median of 5).
    last_day = frame["date"].max()
    day = corrected[corrected["date"] == last_day]
    times = []
    for i in range(5):
        started = time.perf_counter()
        load.replace_prices(engine, day.assign(close=day["close"] * (1 + i / 1000)), symbols, last_day.date(),
                            last_day.date(), ingested_at=third + dt.timedelta(hours=i + 1))
        times.append(time.perf_counter() - started)
    results["daily_session_write_ms"] = round(sorted(times)[2] * 1000, 1)
    _timed("read_closes_s", results, lambda: read.read_closes(engine, symbols=symbols, start=start, end=end))
    if "as_of" in inspect.signature(read.read_closes).parameters:
        known = _timed("read_closes_as_of_s", results, lambda: read.read_closes(
            engine, symbols=symbols, start=start, end=end, as_of=second))
        results["as_of_rows"] = len(known)
    engine.dispose()
    create_warehouse_engine.cache_clear()
    if backend == "postgres":
        _recreate(drop_only=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--years", type=float, default=5.0)
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            results = run(backend, args.years, Path(tmp))
            print(f"\n== revisions benchmark: {backend} ==")
            for key, value in results.items():
                print(f"  {key:<30}{value:,}" if isinstance(value, (int, float)) else f"  {key:<30}{value}")


if __name__ == "__main__":
    main()
