"""A one-day correction inside the history: the index update restarting at the last rebalance
before the day (services/index_restart.py) against the same update from the base date.

N years x the packaged universe backfilled by one `autoindex run` (PostgreSQL, as
``goals.py``), then the targeted one-symbol one-day refresh of the session 60 back (its own
process, as a user runs it; the modes it logged are printed), then in process: AAPL's close of
that day corrected twice (each followed by ``update_strategy`` of every strategy: the restart),
and the same update once more with the stored state forgotten (from the base date). Prints each
update's mode, sessions recomputed and seconds, with the load average.

    python benchmarks/index_restart.py [--years 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import goals  # the deployment helpers of the goal table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=float, default=5)
    args = parser.parse_args()

    from autoindex_pipeline.services.index import update_strategy
    from autoindex_pipeline.warehouse.engine import create_warehouse_engine

    deployment = goals.Deployment("restart", None)
    try:
        sessions = goals._history(args.years)
        history = sessions[:-1]
        deployment.audit_sample_faults(sessions[0], sessions[-1])
        seconds, _, _ = deployment.run("--start", goals._day(history[0]), "--end", goals._day(history[-1]))
        print(f"backfill {args.years:g} y: {seconds:.1f} s ({goals._load()})")
        day = history[-60]
        started = time.perf_counter()
        done = subprocess.run([str(goals.AUTOINDEX), "run", "--config", str(deployment.config_path), "--refresh", "targeted",
                               "--symbols", "AAPL", "--start", goals._day(day), "--end", goals._day(day), "--reason", "benchmark"],
                              env=deployment.env, capture_output=True, text=True)
        print(f"targeted refresh of AAPL on {goals._day(day)}: {time.perf_counter() - started:.1f} s, exit {done.returncode} "
              f"({goals._load()})")
        for line in (done.stdout + done.stderr).splitlines():
            if " - index_assets - " in line and " index rows " in line:
                print("   ", line.split(" - index_assets - ")[1][:160])

        config = deployment.config()
        engine = create_warehouse_engine(config.database_url())

        def update_all(label: str) -> None:
            for name in config.strategies:
                started = time.perf_counter()
                report = update_strategy(engine, config, name)
                print(f"{label} {name}: {report.mode}; {report.index_rows} sessions, "
                      f"{time.perf_counter() - started:.2f} s ({goals._load()})")

        for factor in (1.03, 1.0 / 1.03):
            with engine.begin() as conn:
                conn.execute(sa.text("UPDATE prices SET close = close * :f, ingested_at = :now WHERE symbol = 'AAPL' AND date = :d"),
                             {"f": factor, "now": dt.datetime.now(dt.UTC), "d": day.date()})
            update_all("correction:")
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM index_state"))
        update_all("from the base date:")
        engine.dispose()
    finally:
        deployment.drop()


if __name__ == "__main__":
    main()
