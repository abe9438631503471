"""What the alert sensors read from the warehouse: small, indexed queries (newest rows only),
since a sensor ticks every few minutes."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.warehouse import schema


def recent_index_rows(engine: sa.Engine, strategy: str, version: str, limit: int = 5) -> pd.DataFrame:
    """The newest ``limit`` index rows (date, level, daily_return) of one strategy version, newest first."""
    table = schema.index_values
    with engine.connect() as conn:
        return pd.read_sql(
            sa.select(table.c.date, table.c.level, table.c.daily_return)
            .where(table.c.strategy == strategy, table.c.version == version)
            .order_by(table.c.date.desc()).limit(limit),
            conn,
        )


def newest_price_date(engine: sa.Engine) -> dt.date | None:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.max(schema.prices.c.date))).scalar()


def news_recency(engine: sa.Engine) -> tuple[object, dict[str, object]]:
    """The newest article's ``published_at`` overall, and per symbol (from its scores)."""
    articles, sentiment = schema.news_articles, schema.news_sentiment
    with engine.connect() as conn:
        newest = conn.execute(sa.select(sa.func.max(articles.c.published_at))).scalar()
        per_symbol = dict(conn.execute(
            sa.select(sentiment.c.symbol, sa.func.max(articles.c.published_at))
            .join(articles, articles.c.article_id == sentiment.c.article_id)
            .group_by(sentiment.c.symbol)
        ).all())
    return newest, per_symbol
