"""Ingestion benchmark: N years x the whole universe from the sample provider, as ONE backfill run
of the prices job in a real Dagster instance, on SQLite and on PostgreSQL.

Prints, per backend: wall time of the backfill, rows/s, peak RSS of the process, the daily
incremental run (one session, whole graph) and, on PostgreSQL, the warehouse write path against a
raw COPY of the same frame into an identical empty table (ratio = raw COPY time / write path time).

    python benchmarks/ingest.py                 # both backends, 5 years
    python benchmarks/ingest.py --backend sqlite --years 2

PostgreSQL: $AUTOINDEX_BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres); the
benchmark creates and drops its own databases there.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PG_ADMIN_URL = os.environ.get("AUTOINDEX_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_url(database: str, driver: str) -> str:
    import sqlalchemy as sa

    return sa.engine.make_url(PG_ADMIN_URL).set(drivername=driver, database=database).render_as_string(hide_password=False)


def _recreate_pg_databases(names: list[str]) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(_pg_url("postgres", "postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_backend(backend: str, years: float) -> dict[str, float | str]:
    os.environ["AUTOINDEX_PROGRESS"] = "0"
    import dagster as dg
    import pandas as pd
    import yaml

    from autoindex_pipeline.cli.demo import override_documented_sample_faults
    from autoindex_pipeline.cli.runner import run_prices_job
    from autoindex_pipeline.config import DATABASE_URL_ENV_VAR, DEFAULT_CONFIG_PATH, load_config
    from autoindex_pipeline.domain.calendar import last_closed_session, sessions_between
    from autoindex_pipeline.warehouse.engine import create_warehouse_engine
    from autoindex_pipeline.warehouse.read import table_counts

    work = Path(tempfile.mkdtemp(prefix=f"autoindex-bench-{backend}-"))
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    raw["universe"]["file"] = str(DEFAULT_CONFIG_PATH.parent / "universe.csv")
    raw["storage"]["data_dir"] = str(work / "data")
    config_path = work / "autoindex.yaml"
    config_path.write_text(yaml.safe_dump(raw))

    if backend == "postgres":
        _recreate_pg_databases(["autoindex_bench_wh", "autoindex_bench_dg"])
        os.environ[DATABASE_URL_ENV_VAR] = _pg_url("autoindex_bench_wh", "postgresql+psycopg")
        instance_cm = dg.instance_for_test(
            overrides={"storage": {"postgres": {"postgres_url": _pg_url("autoindex_bench_dg", "postgresql+psycopg2")}}}
        )
    else:
        os.environ.pop(DATABASE_URL_ENV_VAR, None)
        (work / "dagster").mkdir()
        instance_cm = dg.instance_for_test(temp_dir=str(work / "dagster"))

    config = load_config(config_path)
    end = last_closed_session()
    sessions = sessions_between((end - pd.DateOffset(days=round(365.25 * years))).date(), end)
    history, last = sessions[:-1], sessions[-1]
    out: dict[str, float | str] = {"backend": backend, "symbols": len(config.symbols), "sessions": len(history)}
    # The sample's documented bad prints fail blocking checks (as they should); record the
    # audited overrides the demo records, so the run completes and the timing is the full path.
    override_documented_sample_faults(config, history[0], history[-1])
    with instance_cm as instance:
        started = time.perf_counter()
        result = run_prices_job(config, str(config_path), history[0], history[-1], instance=instance)
        out["backfill_s"] = time.perf_counter() - started
        assert result.success, "backfill failed"
        out["runs"] = len(instance.get_runs())
        rows = table_counts(create_warehouse_engine(config.database_url()))["prices"]
        out["rows"] = rows
        out["rows_per_s"] = rows / out["backfill_s"]
        started = time.perf_counter()
        assert run_prices_job(config, str(config_path), last, last, instance=instance).success
        out["daily_incremental_s"] = time.perf_counter() - started
    out.update(checks_share(config, history[0], history[-1], out["backfill_s"]))
    if backend == "postgres":
        out.update(write_path_vs_copy(config, history[0], history[-1]))
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


def checks_share(config, start, end, backfill_s) -> dict[str, float]:
    """The price checks the backfill ran (GX batch + pandas checks over the whole range, once),
    timed again on their own: their share of the backfill's wall time."""
    from autoindex_pipeline.services.price_checks import evaluate_prices
    from autoindex_pipeline.warehouse.engine import create_warehouse_engine
    from autoindex_pipeline.warehouse.read import read_prices

    engine = create_warehouse_engine(config.database_url())
    frame = read_prices(engine, start=start, end=end)
    started = time.perf_counter()
    evaluate_prices(engine, config, frame, start, end)
    seconds = time.perf_counter() - started
    return {"checks_s": seconds, "checks_share_of_backfill": seconds / backfill_s}


def write_path_vs_copy(config, start, end) -> dict[str, float]:
    """The warehouse write path against a raw COPY of the same frame into an identical empty
    table, each timed on a fresh table so neither pays for the other's rows."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    from autoindex_pipeline.providers.prices.sample import SampleProvider
    from autoindex_pipeline.warehouse import load
    from autoindex_pipeline.warehouse.engine import create_warehouse_engine

    frame = SampleProvider(config.universe_frame, seed=config.providers.sample.seed).fetch_prices(
        config.symbols, start.date(), end.date()
    ).frame
    engine = create_warehouse_engine(config.database_url())
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE prices")
    started = time.perf_counter()
    load.replace_prices(engine, frame, config.symbols, start.date(), end.date())
    write_path = time.perf_counter() - started

    rows = load._price_rows(frame, load._timestamp_text(load._utc_now(), postgres=True))
    buffer = io.BytesIO()
    pa_csv.write_csv(pa.Table.from_pandas(rows, preserve_index=False), buffer,
                     pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS prices_rawcopy")
        conn.exec_driver_sql("CREATE TABLE prices_rawcopy (LIKE prices INCLUDING ALL)")
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        started = time.perf_counter()
        with cursor.copy("COPY prices_rawcopy FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())
        raw_copy = time.perf_counter() - started
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE prices_rawcopy")
    return {
        "write_rows": len(frame),
        "write_path_s": write_path,
        "raw_copy_s": raw_copy,
        "write_vs_copy_ratio": raw_copy / write_path,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--json", action="store_true", help="print one JSON line (used for the per-backend subprocesses)")
    args = parser.parse_args()
    if args.backend == "both":
        # One process per backend, so each peak RSS is its own.
        for backend in ("sqlite", "postgres"):
            done = subprocess.run(
                [sys.executable, __file__, "--backend", backend, "--years", str(args.years), "--json"],
                capture_output=True, text=True,
            )
            if done.returncode:
                sys.exit(f"{backend} benchmark failed:\n{done.stderr[-3000:]}")
            _print(json.loads(done.stdout.strip().splitlines()[-1]))
        return
    figures = run_backend(args.backend, args.years)
    if args.json:
        print(json.dumps(figures))
    else:
        _print(figures)


def _print(figures: dict) -> None:
    print(f"\n== ingest benchmark: {figures['backend']} ==")
    for key, value in figures.items():
        if key != "backend":
            print(f"  {key:<22}{value:,.2f}" if isinstance(value, float) else f"  {key:<22}{value}")


if __name__ == "__main__":
    main()
