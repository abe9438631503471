"""Maintenance on a full-size warehouse: the nightly backup (with its manifest of every table),
the restore test of that stored backup, and the capacity measurement, on SQLite and PostgreSQL.

The warehouse: the sample provider's closes for the whole universe over ``--years`` years,
written straight through ``warehouse.load.replace_prices`` (no Dagster: what is timed here is the
maintenance, not the ingest), plus its shares.

    python benchmarks/maintenance.py [--years 5] [--backend sqlite|postgres|both]

PostgreSQL: $AUTOINDEX_BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres); the
script creates and drops its own database (and the restore test's scratch one).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

PG_ADMIN_URL = os.environ.get("AUTOINDEX_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = "autoindex_bench_maintenance"


def _pg(database: str) -> str:
    import sqlalchemy as sa

    return sa.engine.make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=database).render_as_string(
        hide_password=False)


def _admin(statement: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(_pg("postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(statement)
    engine.dispose()


def run(backend: str, years: float, workdir: Path) -> dict[str, float]:

    from autoindex_pipeline.config import load_config
    from autoindex_pipeline.maintenance import backup
    from autoindex_pipeline.providers.prices.sample import SampleProvider
    from autoindex_pipeline.services.capacity import measure_capacity
    from autoindex_pipeline.warehouse import load
    from autoindex_pipeline.warehouse.engine import create_warehouse_engine
    from autoindex_pipeline.warehouse.migrate import upgrade

    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'warehouse.sqlite'}"
        scratch: str = str(workdir / "scratch.sqlite")
    else:
        _admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        _admin(f'CREATE DATABASE "{DATABASE}"')
        url = _pg(DATABASE)
        scratch = _pg(DATABASE + "_restore_test")
    engine = create_warehouse_engine(url)
    upgrade(engine)
    config = load_config()
    end = dt.date(2025, 12, 31)
    start = end - dt.timedelta(days=int(years * 365.25))
    provider = SampleProvider(config.universe_frame, seed=config.providers.sample.seed)
    result = provider.fetch_prices(config.symbols, start, end)
    frame = result.frame
    load.replace_prices(engine, frame, sorted(frame["symbol"].unique()), start, end)
    load.upsert_shares(engine, provider.fetch_shares(config.symbols, end).frame)
    figures: dict[str, float] = {"price_rows": float(len(frame))}

    t0 = time.perf_counter()
    stored = backup.backup_warehouse(url, workdir / "backups")
    figures["backup_s"] = time.perf_counter() - t0
    figures["backup_mb"] = stored.bytes / 1e6
    t0 = time.perf_counter()
    report = backup.restore_test_latest(url, workdir / "backups", scratch)
    figures["restore_test_s"] = time.perf_counter() - t0
    figures["restore_test_match"] = float(report.match)
    figures["tables_checked"] = float(len(report.tables))
    t0 = time.perf_counter()
    measured = measure_capacity(engine, config, dagster_bytes=None, now=dt.datetime.now(dt.UTC), disk_path=workdir)
    figures["capacity_s"] = time.perf_counter() - t0
    figures["warehouse_mb"] = measured.database_bytes / 1e6
    engine.dispose()
    if backend == "postgres":
        _admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp:
            figures = run(backend, args.years, Path(tmp))
        print(backend, " ".join(f"{k}={v:,.2f}" for k, v in figures.items()), flush=True)


if __name__ == "__main__":
    main()
