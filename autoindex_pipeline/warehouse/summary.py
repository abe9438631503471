"""What the CLI's summary reads: counts, date ranges and the newest stored results.

Every query here is an aggregate or reads the newest rows only: the summary follows a 5-year
run, where loading the prices table would cost more than the run's own write.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.warehouse import schema

TABLES = {t.name: t for t in schema.metadata.sorted_tables}


@dataclass(frozen=True)
class TableStats:
    rows: int
    first: dt.date | None = None
    last: dt.date | None = None


def _as_date(value: object) -> dt.date | None:
    return None if value is None else pd.Timestamp(value).date()


def table_stats(engine: sa.Engine) -> dict[str, TableStats]:
    """Row count of every warehouse table that exists, with MIN/MAX of its ``date`` column
    (or ``as_of``) where it has one."""
    present = set(sa.inspect(engine).get_table_names())
    out: dict[str, TableStats] = {}
    with engine.connect() as conn:
        for name, table in TABLES.items():
            if name not in present:
                continue
            date_col = table.c.get("date", table.c.get("as_of"))
            if date_col is None:
                out[name] = TableStats(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                continue
            rows, first, last = conn.execute(
                sa.select(sa.func.count(), sa.func.min(date_col), sa.func.max(date_col)).select_from(table)
            ).one()
            out[name] = TableStats(rows, _as_date(first), _as_date(last))
    return out


def rows_per_symbol(engine: sa.Engine, table_name: str) -> pd.Series:
    """Number of stored rows per symbol of a symbol-keyed table (e.g. prices)."""
    table = TABLES[table_name]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table.c.symbol, sa.func.count()).group_by(table.c.symbol)).all()
    return pd.Series({symbol: int(count) for symbol, count in rows}, dtype="int64").sort_index()


def distinct_symbols(engine: sa.Engine, table_name: str) -> int:
    table = TABLES[table_name]
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count(sa.distinct(table.c.symbol)))).scalar_one())


def latest_quality_run(engine: sa.Engine) -> dict | None:
    """The newest ``quality_runs`` row, or None."""
    table = schema.quality_runs
    with engine.connect() as conn:
        row = conn.execute(sa.select(table).order_by(table.c.as_of.desc()).limit(1)).mappings().first()
    return dict(row) if row is not None else None


def red_symbols(engine: sa.Engine, as_of: dt.date) -> list[str]:
    """Symbols coloured red in the quality report of ``as_of``, worst first."""
    table = schema.quality_scores
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(table.c.symbol).where(table.c.as_of == as_of, table.c.colour == "red")
            .order_by(table.c.score, table.c.symbol)
        ).scalars().all()
    return list(rows)


def recent_overrides(engine: sa.Engine, limit: int = 5) -> tuple[int, pd.DataFrame]:
    """How many price overrides are in force, and the first ``limit`` of them (symbol, date, action)."""
    table = schema.price_overrides
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        rows = pd.read_sql(
            sa.select(table.c.symbol, table.c.date, table.c.action).order_by(table.c.symbol, table.c.date).limit(limit),
            conn,
        )
    return int(count), rows


@dataclass(frozen=True)
class SentimentStats:
    first: dt.date
    last: dt.date
    days: int
    scores: int
    symbols: int
    mean_score: float
    share_positive: float
    share_negative: float


def sentiment_stats(engine: sa.Engine) -> SentimentStats | None:
    """Totals of ``sentiment_daily``, the means weighted by article count (one weight per
    (article, symbol) score, not per daily row); None when it is empty."""
    t = schema.sentiment_daily
    n = t.c.article_count
    with engine.connect() as conn:
        row = conn.execute(sa.select(
            sa.func.min(t.c.date), sa.func.max(t.c.date), sa.func.count(sa.distinct(t.c.date)), sa.func.sum(n),
            sa.func.count(sa.distinct(t.c.symbol)), sa.func.sum(t.c.mean_score * n),
            sa.func.sum(t.c.share_positive * n), sa.func.sum(t.c.share_negative * n),
        )).one()
    first, last, days, scores, symbols, score_sum, pos_sum, neg_sum = row
    if first is None or not scores:
        return None
    scores = int(scores)
    return SentimentStats(_as_date(first), _as_date(last), int(days), scores, int(symbols),
                          float(score_sum) / scores, float(pos_sum) / scores, float(neg_sum) / scores)


def index_rows(engine: sa.Engine, strategy: str, version: str) -> pd.DataFrame:
    """One strategy version's index rows (date, level, daily_return, benchmark_level,
    benchmark_return, and the price-return series' price_level, price_daily_return,
    price_benchmark_level, price_benchmark_return), oldest first."""
    t = schema.index_values
    with engine.connect() as conn:
        return pd.read_sql(
            sa.select(t.c.date, t.c.level, t.c.daily_return, t.c.benchmark_level, t.c.benchmark_return,
                      t.c.price_level, t.c.price_daily_return, t.c.price_benchmark_level, t.c.price_benchmark_return)
            .where(t.c.strategy == strategy, t.c.version == version).order_by(t.c.date),
            conn,
        )


def quality_run_checks(engine: sa.Engine, as_of: dt.date) -> pd.DataFrame:
    """Each check's figures in the quality report of ``as_of`` (check_name, severity, passed,
    observed, threshold, offending, evaluated, overridden), in the registry's stored order;
    empty for a report stored before migration 0009."""
    t = schema.quality_run_checks
    with engine.connect() as conn:
        return pd.read_sql(sa.select(t.c.check_name, t.c.severity, t.c.passed, t.c.observed, t.c.threshold,
                                     t.c.offending, t.c.evaluated, t.c.overridden).where(t.c.as_of == as_of), conn)
