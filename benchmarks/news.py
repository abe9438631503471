"""News benchmark: 90 days x the whole universe of sample news (>= 100k articles) as ONE
single-run backfill of the news job in a real Dagster instance, on SQLite and on PostgreSQL.

Prints, per backend: wall time of the backfill (fetch + deduplicate + score + aggregate + write,
plus Dagster's per-partition events), articles fetched and stored per second, (article, symbol)
scores, peak RSS of the process, a re-run of the whole range (nothing new: row counts must not
change) and the 15-minute refresh of today's partition. ``--breakdown`` also times the pure steps
(sample generation, dedup, scoring) on the same window outside Dagster.

    python benchmarks/news.py                    # both backends, 90 days
    python benchmarks/news.py --backend sqlite --days 30 --breakdown

PostgreSQL: $AUTOINDEX_BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres); the
benchmark creates and drops its own databases there.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PG_ADMIN_URL = os.environ.get("AUTOINDEX_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
NEWS_TABLES = ("news_articles", "news_article_keys", "news_sentiment", "sentiment_daily")


def _pg_url(database: str, driver: str) -> str:
    import sqlalchemy as sa

    return sa.engine.make_url(PG_ADMIN_URL).set(drivername=driver, database=database).render_as_string(hide_password=False)


def _recreate_pg_databases(names: list[str], drop_only: bool = False) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(_pg_url("postgres", "postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if not drop_only:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_backend(backend: str, days: int, breakdown: bool) -> dict[str, float | str]:
    os.environ["AUTOINDEX_PROGRESS"] = "0"
    import datetime as dt

    import dagster as dg
    import pandas as pd
    import yaml

    from autoindex_pipeline.cli.runner import run_news_job
    from autoindex_pipeline.config import DATABASE_URL_ENV_VAR, DEFAULT_CONFIG_PATH, load_config
    from autoindex_pipeline.warehouse.engine import create_warehouse_engine
    from autoindex_pipeline.warehouse.read import table_counts

    work = Path(tempfile.mkdtemp(prefix=f"autoindex-news-bench-{backend}-"))
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    raw["universe"]["file"] = str(DEFAULT_CONFIG_PATH.parent / "universe.csv")
    raw["storage"]["data_dir"] = str(work / "data")
    config_path = work / "autoindex.yaml"
    config_path.write_text(yaml.safe_dump(raw))

    databases = ["autoindex_news_bench_wh", "autoindex_news_bench_dg"]
    if backend == "postgres":
        _recreate_pg_databases(databases)
        os.environ[DATABASE_URL_ENV_VAR] = _pg_url(databases[0], "postgresql+psycopg")
        instance_cm = dg.instance_for_test(
            overrides={"storage": {"postgres": {"postgres_url": _pg_url(databases[1], "postgresql+psycopg2")}}}
        )
    else:
        os.environ.pop(DATABASE_URL_ENV_VAR, None)
        (work / "dagster").mkdir()
        instance_cm = dg.instance_for_test(temp_dir=str(work / "dagster"))

    config = load_config(config_path)
    today = pd.Timestamp.now(tz="America/New_York").date()
    last = today - dt.timedelta(days=1)
    first = last - dt.timedelta(days=days - 1)
    out: dict[str, float | str] = {"backend": backend, "symbols": len(config.symbols), "days": days,
                                   "first_day": str(first), "last_day": str(last)}
    engine = create_warehouse_engine(config.database_url())
    with instance_cm as instance:
        started = time.perf_counter()
        result = run_news_job(config, str(config_path), first, last, instance=instance)
        out["backfill_s"] = time.perf_counter() - started
        assert result.success, "backfill failed"
        out["runs"] = len(instance.get_runs())
        meta = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
        fetched = meta["news_articles"]["articles_fetched"].value
        counts = table_counts(engine)
        out["articles_fetched"] = fetched
        out["articles_stored"] = counts["news_articles"]
        out["scores_stored"] = counts["news_sentiment"]
        out["sentiment_daily_rows"] = counts["sentiment_daily"]
        out["fetched_articles_per_s"] = fetched / out["backfill_s"]
        out["stored_articles_per_s"] = counts["news_articles"] / out["backfill_s"]
        out["models"] = json.dumps(meta["news_sentiment"]["models"].value)

        before = {t: counts[t] for t in NEWS_TABLES}
        started = time.perf_counter()
        assert run_news_job(config, str(config_path), first, last, instance=instance).success
        out["rerun_whole_range_s"] = time.perf_counter() - started
        after = table_counts(engine)
        out["rerun_row_counts_unchanged"] = str(before == {t: after[t] for t in NEWS_TABLES})

        started = time.perf_counter()
        assert run_news_job(config, str(config_path), today, today, instance=instance).success
        out["todays_refresh_s"] = time.perf_counter() - started
    out["peak_rss_mb"] = _peak_rss_mb()
    if breakdown:
        out.update(pure_breakdown(config, first, last))
    if backend == "postgres":
        engine.dispose()
        _recreate_pg_databases(databases, drop_only=True)
    return out


def pure_breakdown(config, first, last) -> dict[str, float]:
    """The domain steps alone on the same window: where the backfill's time goes."""
    from autoindex_pipeline.domain.news import deduplicate
    from autoindex_pipeline.domain.sentiment import score_article_symbols
    from autoindex_pipeline.providers.registry import build_news_provider
    from autoindex_pipeline.services.news import utc_window

    lo, hi = utc_window(first, last)
    provider = build_news_provider(config)
    started = time.perf_counter()
    fetched = provider.fetch_news(config.symbols, lo, hi)
    fetch_s = time.perf_counter() - started
    started = time.perf_counter()
    articles, entities, _ = deduplicate(fetched.articles, fetched.entities)
    dedup_s = time.perf_counter() - started
    started = time.perf_counter()
    score_article_symbols(articles, entities)
    score_s = time.perf_counter() - started
    return {"pure_sample_fetch_s": fetch_s, "pure_dedup_s": dedup_s, "pure_score_s": score_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--breakdown", action="store_true", help="also time the pure steps outside Dagster")
    parser.add_argument("--json", action="store_true", help="print one JSON line (used for the per-backend subprocesses)")
    args = parser.parse_args()
    if args.backend == "both":
        # One process per backend, so each peak RSS is its own.
        for backend in ("sqlite", "postgres"):
            command = [sys.executable, __file__, "--backend", backend, "--days", str(args.days), "--json"]
            done = subprocess.run(command + (["--breakdown"] if args.breakdown else []),
                                  check=True, capture_output=True, text=True)
            _print(json.loads(done.stdout.strip().splitlines()[-1]))
        return
    figures = run_backend(args.backend, args.days, args.breakdown)
    if args.json:
        print(json.dumps(figures))
    else:
        _print(figures)


def _print(figures: dict) -> None:
    print(f"\n== news benchmark: {figures['backend']} ==")
    for key, value in figures.items():
        if key != "backend":
            print(f"  {key:<28}{value:,.2f}" if isinstance(value, float) else f"  {key:<28}{value}")


if __name__ == "__main__":
    main()
