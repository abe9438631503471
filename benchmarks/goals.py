"""Every figure of issue 14's goal table, in one command.

    python benchmarks/goals.py            # the goal sizes (several minutes on 2 cores)
    python benchmarks/goals.py --quick    # small sizes, to check the script itself
    python benchmarks/goals.py --suite    # also time the whole test suite (long)

Each figure runs the way a user runs it: `autoindex run` as its own process (wall time and peak
RSS of that process, from ``wait4``), PostgreSQL for the warehouse and Dagster's storage
(fresh databases at $AUTOINDEX_BENCH_PG_URL, default postgresql://postgres@127.0.0.1:5432/postgres,
dropped after), the sample provider with the demo's audited overrides of its documented bad
prints (so the runs complete). Figures:

1. whole graph, N years x the packaged universe (513 symbols), one `autoindex run`;
2. the whole-graph daily run after 1 and after 10 years of history (one new session);
3. the targeted one-symbol, one-day refresh of an old session, index update included;
4. 3,000 symbols (the universe plus synthetic ones) x 2 years: backfill and daily run;
5. the index engine against a plain numpy drift loop on the same targets (in process);
6. the test suite (only with --suite).

The load average is printed beside each figure: on a shared machine it explains most spread.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("AUTOINDEX_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AUTOINDEX = Path(sys.executable).with_name("autoindex")


def _pg_url(database: str, driver: str) -> str:
    import sqlalchemy as sa

    return sa.engine.make_url(PG_ADMIN_URL).set(drivername=driver, database=database).render_as_string(hide_password=False)


def _pg_admin(statements: list[str]) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(_pg_url("postgres", "postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    admin.dispose()


class Deployment:
    """A config, a PostgreSQL warehouse and a Dagster home on PostgreSQL, for `autoindex` processes."""

    def __init__(self, name: str, symbols: int | None):
        from autoindex_pipeline.config import DEFAULT_CONFIG_PATH

        self.work = Path(tempfile.mkdtemp(prefix=f"autoindex-goals-{name}-"))
        self.databases = [f"autoindex_goals_{name}_wh", f"autoindex_goals_{name}_dg"]
        _pg_admin([s for db in self.databases for s in (f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)',
                                                         f'CREATE DATABASE "{db}"')])
        raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
        universe = pd.read_csv(DEFAULT_CONFIG_PATH.parent / raw["universe"]["file"])
        if symbols is not None and symbols > len(universe):
            # Synthetic equities beside the real ones: the sample provider prices any symbol.
            sectors = universe.loc[universe["asset_class"] == "equity", "sector"].dropna().unique()
            extra = pd.DataFrame({"symbol": [f"ZZ{i:04d}" for i in range(symbols - len(universe))]})
            extra["name"] = "Synthetic " + extra["symbol"]
            extra["asset_class"] = "equity"
            extra["sector"] = [sectors[i % len(sectors)] for i in range(len(extra))]
            universe = pd.concat([universe, extra], ignore_index=True)
        elif symbols is not None:
            # A subset of the file's symbols (the benchmark is added by the config itself).
            raw["universe"]["symbols"] = universe.loc[universe["symbol"] != raw["universe"].get("benchmark", "SPY"),
                                                      "symbol"].head(symbols).tolist()
        universe.to_csv(self.work / "universe.csv", index=False)
        raw["universe"]["file"] = str(self.work / "universe.csv")
        raw["storage"]["data_dir"] = str(self.work / "data")
        self.config_path = self.work / "autoindex.yaml"
        self.config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
        home = self.work / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text(yaml.safe_dump({
            "storage": {"postgres": {"postgres_url": _pg_url(self.databases[1], "postgresql+psycopg2")}},
            "telemetry": {"enabled": False},
        }))
        self.env = {**os.environ, "DAGSTER_HOME": str(home), "AUTOINDEX_PROGRESS": "0",
                    "AUTOINDEX_DATABASE_URL": _pg_url(self.databases[0], "postgresql+psycopg")}

    def config(self):
        from autoindex_pipeline.config import load_config

        os.environ["AUTOINDEX_DATABASE_URL"] = self.env["AUTOINDEX_DATABASE_URL"]
        return load_config(self.config_path)

    def audit_sample_faults(self, start: pd.Timestamp, end: pd.Timestamp) -> None:
        from autoindex_pipeline.cli.demo import override_documented_sample_faults
        from autoindex_pipeline.cli.runner import warehouse_engine

        config = self.config()
        warehouse_engine(config)
        override_documented_sample_faults(config, start, end)

    def run(self, *args: str) -> tuple[float, float, str]:
        """`autoindex run ARGS` in its own process: (seconds, peak RSS MiB, output tail)."""
        started = time.perf_counter()
        with tempfile.TemporaryFile("w+") as out:
            process = subprocess.Popen([str(AUTOINDEX), "run", "--config", str(self.config_path), *args],
                                       env=self.env, stdout=out, stderr=subprocess.STDOUT, text=True)
            # wait4, not Popen.wait: the child's own resource usage (its peak RSS) comes with it.
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            seconds = time.perf_counter() - started
            out.seek(0)
            output = out.read()
        if process.returncode:
            raise SystemExit(f"autoindex run {' '.join(args)} failed ({process.returncode}):\n{output[-3000:]}")
        return seconds, usage.ru_maxrss / 1024, output[-400:]

    def drop(self) -> None:
        _pg_admin([f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)' for db in self.databases])
        shutil.rmtree(self.work, ignore_errors=True)


def _history(years: float) -> pd.DatetimeIndex:
    from autoindex_pipeline.domain.calendar import last_closed_session, sessions_between

    end = last_closed_session()
    return sessions_between((end - pd.DateOffset(days=round(365.25 * years))).date(), end)


def _load() -> str:
    return "load {:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg())


def _day(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d")


def whole_graph(years: float, symbols: int | None, name: str, targeted: bool) -> list[tuple[str, str, str]]:
    """Backfill of ``years`` as one `autoindex run`, then the daily run of the next session (and
    the targeted refresh of one symbol on an old session)."""
    deployment = Deployment(name, symbols)
    try:
        sessions = _history(years)
        history, last = sessions[:-1], sessions[-1]
        deployment.audit_sample_faults(sessions[0], sessions[-1])
        n = len(deployment.config().symbols)
        rows = []
        seconds, rss, _ = deployment.run("--start", _day(history[0]), "--end", _day(history[-1]))
        rows.append((f"{years:g} y x {n} symbols, whole graph, one `autoindex run`", f"{seconds:.1f} s, peak RSS {rss:,.0f} MiB", _load()))
        seconds, rss, _ = deployment.run("--start", _day(last), "--end", _day(last))
        rows.append((f"whole-graph daily run after {years:g} y ({n} symbols)", f"{seconds:.1f} s, peak RSS {rss:,.0f} MiB", _load()))
        if targeted:
            day = history[-60]
            seconds, _, _ = deployment.run("--refresh", "targeted", "--symbols", "AAPL", "--start", _day(day),
                                           "--end", _day(day), "--reason", "benchmark")
            rows.append((f"targeted refresh: AAPL on {_day(day)} (60 sessions back), index update included",
                         f"{seconds:.1f} s", _load()))
        return rows
    finally:
        deployment.drop()


def engine_vs_numpy_loop(assets: int, years: int) -> list[tuple[str, str, str]]:
    """The index engine and a plain numpy drift loop (weights drift with the day's returns,
    replaced by the targets at each rebalance, cost on the turnover) on the same returns and
    targets; CPU time, best of 40 each, interleaved."""
    import numpy as np

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from index import drift_loop_inputs, plain_drift_loop, synthetic_prices

    from autoindex_pipeline.config import StrategyConfig
    from autoindex_pipeline.domain import cleaning, index, strategy
    from autoindex_pipeline.domain.calendar import sessions_between

    sessions = sessions_between("2014-01-02", pd.Timestamp("2014-01-02") + pd.DateOffset(years=years) - pd.Timedelta(days=1))
    closes = synthetic_prices(sessions, assets, 7)
    symbols = list(closes.columns)
    config = StrategyConfig(rebalance_frequency="weekly", start_date=sessions[0].date())
    shares_long = pd.DataFrame({"symbol": symbols, "date": sessions[0],
                                "shares_outstanding": np.random.default_rng(8).uniform(1e7, 1e9, len(symbols))})
    clean = cleaning.clean_closes(closes, config.max_forward_fill_days)
    returns = cleaning.daily_returns(clean, config.min_daily_return, config.max_daily_return)
    shares = strategy.shares_as_of(shares_long, sessions, symbols)
    dates = strategy.rebalance_dates(sessions, config.rebalance_frequency, config.start_date)
    targets = strategy.target_weights(clean, returns, shares, config, dates)
    d0 = strategy.base_date(targets, dates, config.start_date)
    r, on = drift_loop_inputs(targets, returns, d0)
    cost = config.transaction_cost_bps / 1e4
    # CPU time, best of 40, the two interleaved: a wall-clock best of 5 each, one after the
    # other, put the ratio anywhere between 0.9x and 1.7x on this shared 2-core machine.
    t_engine = t_loop = float("inf")
    for _ in range(40):
        started = time.process_time()
        daily, _ = index.compute_index(returns, targets, d0)
        t_engine = min(t_engine, time.process_time() - started)
        started = time.process_time()
        levels = plain_drift_loop(r, on, cost)
        t_loop = min(t_loop, time.process_time() - started)
    gap = float(np.max(np.abs(levels / daily["level"].to_numpy()[: len(levels)] - 1)))
    return [(f"index engine vs plain numpy loop ({len(sessions)} sessions x {assets} assets, weekly)",
             f"{t_engine / t_loop:.2f}x the loop's time (engine {t_engine * 1e3:.1f} ms, loop {t_loop * 1e3:.1f} ms; "
             f"levels within {gap:.1e})", _load())]


def test_suite() -> list[tuple[str, str, str]]:
    started = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).with_name("pytest")), "-q", "-p", "no:cacheprovider"], cwd=ROOT,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "no output"
    return [("test suite", f"{seconds / 60:.1f} min ({tail})", _load())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: 1 y x 40 symbols, 300 symbols x 0.5 y")
    parser.add_argument("--suite", action="store_true", help="also time the whole test suite")
    parser.add_argument("--only", choices=["whole", "daily10", "wide", "engine"], action="append",
                        help="run only these figures (repeatable)")
    args = parser.parse_args()
    only = set(args.only or ["whole", "daily10", "wide", "engine"])
    rows: list[tuple[str, str, str]] = []
    small = 40 if args.quick else None
    if "whole" in only:
        rows += whole_graph(1 if args.quick else 5, small, "whole", targeted=True)
        rows += whole_graph(1, small, "daily1", targeted=False)[1:]
    if "daily10" in only:
        rows += whole_graph(2 if args.quick else 10, small, "daily10", targeted=False)[1:]
    if "wide" in only:
        rows += whole_graph(0.5 if args.quick else 2, 300 if args.quick else 3000, "wide", targeted=False)
    if "engine" in only:
        rows += engine_vs_numpy_loop(50 if args.quick else 500, 2 if args.quick else 10)
    if args.suite:
        rows += test_suite()
    width = max(len(r[0]) for r in rows)
    print(f"\n{'figure'.ljust(width)} | measured | machine")
    for figure, value, load in rows:
        print(f"{figure.ljust(width)} | {value} | {load}")


if __name__ == "__main__":
    main()
