"""News and sentiment storage: bulk, idempotent, one transaction per write.

* :func:`write_news` stores one run's result: new articles (insert, never overwrite: the first
  stored row of an article is kept), their dedup keys (insert), the (article, symbol) sentiment
  rows (upsert: a re-run or a new model replaces a pair's score, never adds a second row; a
  provider's entity score is not replaced by the lexicon fallback of a copy without one), and
  then replaces ``sentiment_daily`` for the run's days with an aggregate of *every* stored
  sentiment row of those days (live and archived), read inside the same transaction. A failed
  or killed write leaves the previous rows as they were.
* :func:`archive_news` moves articles and sentiment rows dated before a cutoff to the archive
  tables in one transaction: copied (upserted) first, then deleted from the live tables only
  where the archive now holds them. Running it twice moves nothing more. Dedup keys and
  ``sentiment_daily`` stay (keys so an archived article fetched again is recognised; the daily
  aggregate is what the strategy reads over its whole history).

PostgreSQL: COPY into a temporary staging table, then one INSERT ... SELECT ... ON CONFLICT per
table. SQLite: the DBAPI's executemany with ON CONFLICT. Dates are exchange-time-zone calendar
dates; times are UTC. No Dagster, no domain logic: callers pass the aggregate function.

The reads (keys, stored articles, a window's scores, the daily aggregate, top movers) are in
:mod:`autoindex_pipeline.warehouse.news_read`; imported here too, so this module stays the one
place callers import the news store from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.engine import is_postgres

# The COPY-into-staging path is the price loader's: one implementation of the fast write.
from autoindex_pipeline.warehouse.load import _copy_into_staging, _timestamp_text, _utc_now
from autoindex_pipeline.warehouse.locks import serialize_writers
from autoindex_pipeline.warehouse.news_read import (
    DAILY_COLUMNS,
    WINDOW_COLUMNS,
    read_keys,
    read_news_articles,
    read_sentiment_daily,
    read_stored_articles,
    read_top_movers,
    read_window_sentiment,
    top_movers,
)

__all__ = [
    "DAILY_COLUMNS",
    "WINDOW_COLUMNS",
    "ArchiveResult",
    "NewsWriteResult",
    "archive_news",
    "read_keys",
    "read_news_articles",
    "read_sentiment_daily",
    "read_stored_articles",
    "read_top_movers",
    "read_window_sentiment",
    "top_movers",
    "write_news",
]

# Upsert of a (article, symbol) score. A provider's entity score is better evidence than the
# lexicon fallback: a later fetch without one (a copy from a provider that gives no sentiment)
# keeps the stored score, model and provider sentiment; otherwise the new score wins (a re-run,
# a new model version, or a provider score where there was none). SET expressions see the old
# row on both backends.
_KEEP_STORED = "(excluded.provider_sentiment IS NULL AND news_sentiment.provider_sentiment IS NOT NULL)"
_SENTIMENT_UPSERT = ", ".join(
    [
        f"score = CASE WHEN {_KEEP_STORED} THEN news_sentiment.score ELSE excluded.score END",
        f"model = CASE WHEN {_KEEP_STORED} THEN news_sentiment.model ELSE excluded.model END",
        f"computed_at = CASE WHEN {_KEEP_STORED} THEN news_sentiment.computed_at ELSE excluded.computed_at END",
        "provider_sentiment = COALESCE(excluded.provider_sentiment, news_sentiment.provider_sentiment)",
        "match_score = COALESCE(excluded.match_score, news_sentiment.match_score)",
        "date = excluded.date",
    ]
)

@dataclass(frozen=True)
class NewsWriteResult:
    articles_written: int
    keys_written: int
    sentiment_written: int
    daily_deleted: int
    daily_written: int
    window: pd.DataFrame = field(repr=False)
    """Every stored sentiment row of the written days after the write (columns
    :data:`WINDOW_COLUMNS`, live and archived), what the daily aggregate was computed from."""
    daily: pd.DataFrame = field(repr=False)


@dataclass(frozen=True)
class ArchiveResult:
    cutoff: dt.date
    articles_moved: int
    sentiment_moved: int
    articles_live: int
    articles_archived: int
    sentiment_archived: int

    def as_metadata(self) -> dict[str, object]:
        return {
            "cutoff": str(self.cutoff),
            "articles_moved": self.articles_moved,
            "sentiment_rows_moved": self.sentiment_moved,
            "articles_live": self.articles_live,
            "articles_in_archive": self.articles_archived,
            "sentiment_rows_in_archive": self.sentiment_archived,
        }


# --------------------------------------------------------------------------------------------
# helpers


# No return annotation: each dialect has its own insert() construct.
def _insert(engine_or_conn: sa.Engine | sa.Connection):
    if engine_or_conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _timestamps_text(values: pd.Series, postgres: bool) -> pd.Series:
    """UTC times as text in the form each backend's DateTime column reads back (see
    ``load._timestamp_text``), vectorised."""
    stamps = pd.to_datetime(values, utc=True)
    text = stamps.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
    return text + "+00:00" if postgres else text


def _dates_text(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.strftime("%Y-%m-%d")


def _check_unique(frame: pd.DataFrame, keys: Sequence[str], table: str) -> None:
    dupes = frame[frame.duplicated(list(keys), keep=False)]
    if len(dupes):
        sample = dupes.loc[:, list(keys)].head(3).to_dict("records")
        raise ValueError(f"{table}: {len(dupes)} rows share a primary key ({', '.join(keys)}), e.g. {sample}")


def _check_dates(frame: pd.DataFrame, start: dt.date, end: dt.date, table: str) -> None:
    if not len(frame):
        return
    dates = pd.to_datetime(frame["date"])
    outside = frame[(dates < pd.Timestamp(start)) | (dates > pd.Timestamp(end))]
    if len(outside):
        raise ValueError(
            f"{table}: {len(outside)} rows are dated outside the write's days {start}..{end}, "
            f"e.g. {outside.iloc[0]['article_id']} on {pd.Timestamp(outside.iloc[0]['date']).date()}"
        )


def _bulk_insert(
    conn: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: pd.DataFrame,
    conflict: Sequence[str],
    set_clause: str | None = None,
) -> int:
    """INSERT ``rows`` into ``table``; on a primary-key conflict do nothing, or ``DO UPDATE SET
    <set_clause>``. Returns the number of rows inserted or updated."""
    if not len(rows):
        return 0
    cols = ", ".join(columns)
    target = ", ".join(conflict)
    action = f"DO UPDATE SET {set_clause}" if set_clause else "DO NOTHING"
    if is_postgres(conn.engine):
        staging = _copy_into_staging(conn, table.name, columns, rows)
        result = conn.exec_driver_sql(
            f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {staging} ON CONFLICT ({target}) {action}"
        )
        return result.rowcount or 0
    placeholders = ", ".join("?" for _ in columns)
    cursor = conn.connection.driver_connection.cursor()
    try:
        # sqlite3 binds a float NaN as NULL, so frames go in without per-cell conversion.
        cursor.executemany(
            f"INSERT INTO {table.name} ({cols}) VALUES ({placeholders}) ON CONFLICT ({target}) {action}",
            rows.loc[:, list(columns)].itertuples(index=False, name=None),
        )
        return cursor.rowcount if cursor.rowcount is not None and cursor.rowcount >= 0 else len(rows)
    finally:
        cursor.close()


# --------------------------------------------------------------------------------------------
# writes


def write_news(
    engine: sa.Engine,
    articles: pd.DataFrame,
    keys: pd.DataFrame,
    sentiment: pd.DataFrame,
    start: dt.date,
    end: dt.date,
    aggregate: Callable[[pd.DataFrame], pd.DataFrame],
    ingested_at: dt.datetime | None = None,
) -> NewsWriteResult:
    """Store one fetch of the days ``start..end`` (exchange-time-zone dates) in ONE transaction.

    * ``articles``: the articles to insert: ``article_id``, the article columns of
      :mod:`autoindex_pipeline.providers.news.base` and ``date``. An id already stored is left
      as it is (the first stored row is kept).
    * ``keys``: ``key, article_id, published_at``; pairs already stored are skipped.
    * ``sentiment``: ``article_id, symbol, score, model, match_score, provider_sentiment, date``,
      upserted on (article_id, symbol).
    * ``aggregate(window)`` gets every stored score of ``start..end`` after the writes above
      (columns :data:`WINDOW_COLUMNS`, live and archived) and returns the daily rows
      (:data:`DAILY_COLUMNS`) that replace ``sentiment_daily`` on ``start..end``.

    Articles or scores dated outside ``start..end`` are refused (``ValueError``, nothing
    written): a run owns exactly its days.
    """
    _check_unique(articles, ("article_id",), "news_articles")
    _check_unique(sentiment, ("article_id", "symbol"), "news_sentiment")
    _check_dates(articles, start, end, "news_articles")
    _check_dates(sentiment, start, end, "news_sentiment")
    if (sentiment["score"].abs() > 1).any() or sentiment["score"].isna().any():
        raise ValueError("news_sentiment: every score must be a number in [-1, 1]")
    if (sentiment["model"].astype(str).str.strip() == "").any():
        raise ValueError("news_sentiment: every score must name its model")
    postgres = is_postgres(engine)
    now = ingested_at or _utc_now()
    now_text = _timestamp_text(now, postgres)

    article_rows = pd.DataFrame(
        {
            "article_id": articles["article_id"].astype(str),
            "provider": articles["provider"].astype(str),
            "provider_id": articles["provider_id"].astype(str),
            "published_at": _timestamps_text(articles["published_at"], postgres),
            "date": _dates_text(articles["date"]),
            "title": articles["title"].astype(str),
            "description": articles["description"].astype(str),
            "url": articles["url"].astype(str),
            "source": articles["source"].astype(str),
            "language": articles["language"].astype(str),
            "ingested_at": now_text,
        }
    ).loc[:, list(schema.NEWS_ARTICLE_WRITE_COLUMNS)]
    key_rows = pd.DataFrame(
        {
            "key": keys["key"].astype(str),
            "article_id": keys["article_id"].astype(str),
            "published_at": _timestamps_text(keys["published_at"], postgres),
        }
    ).drop_duplicates(["key", "article_id"])
    sentiment_rows = pd.DataFrame(
        {
            "article_id": sentiment["article_id"].astype(str),
            "symbol": sentiment["symbol"].astype(str),
            "score": sentiment["score"].astype("float64"),
            "model": sentiment["model"].astype(str),
            "match_score": pd.to_numeric(sentiment["match_score"]).astype("float64"),
            "provider_sentiment": pd.to_numeric(sentiment["provider_sentiment"]).astype("float64"),
            "date": _dates_text(sentiment["date"]),
            "computed_at": now_text,
        }
    ).loc[:, list(schema.NEWS_SENTIMENT_WRITE_COLUMNS)]

    with engine.begin() as conn:
        serialize_writers(conn, "news")
        articles_written = _bulk_insert(
            conn, schema.news_articles, schema.NEWS_ARTICLE_WRITE_COLUMNS, article_rows, ("article_id",)
        )
        keys_written = _bulk_insert(
            conn, schema.news_article_keys, schema.NEWS_KEY_WRITE_COLUMNS, key_rows, ("key", "article_id")
        )
        sentiment_written = _bulk_insert(
            conn,
            schema.news_sentiment,
            schema.NEWS_SENTIMENT_WRITE_COLUMNS,
            sentiment_rows,
            ("article_id", "symbol"),
            set_clause=_SENTIMENT_UPSERT,
        )
        window = read_window_sentiment(conn, start, end)
        daily = aggregate(window)
        missing = [c for c in DAILY_COLUMNS if c not in daily.columns]
        if missing:
            raise ValueError(f"the daily aggregate lacks column(s) {', '.join(missing)}")
        daily = daily.loc[:, list(DAILY_COLUMNS)]
        _check_unique(daily, ("symbol", "date"), "sentiment_daily")
        table = schema.sentiment_daily
        deleted = conn.execute(table.delete().where(table.c.date.between(start, end))).rowcount or 0
        daily_rows = daily.assign(date=_dates_text(daily["date"]), computed_at=now_text).loc[
            :, list(schema.SENTIMENT_DAILY_WRITE_COLUMNS)
        ]
        daily_written = _bulk_insert(conn, table, schema.SENTIMENT_DAILY_WRITE_COLUMNS, daily_rows, ("symbol", "date"))
    return NewsWriteResult(
        articles_written=articles_written,
        keys_written=keys_written,
        sentiment_written=sentiment_written,
        daily_deleted=deleted,
        daily_written=daily_written,
        window=window,
        daily=daily.reset_index(drop=True),
    )


def archive_news(engine: sa.Engine, cutoff: dt.date, archived_at: dt.datetime | None = None) -> ArchiveResult:
    """Move articles and sentiment rows dated before ``cutoff`` to the archive tables, in one
    transaction. Rows are upserted into the archive (a row archived before and somehow live
    again is refreshed, never duplicated), then deleted from the live table only where the
    archive holds their key: nothing is deleted that is not in the archive. Idempotent: a second
    run finds nothing older than ``cutoff`` in the live tables and moves nothing."""
    insert = _insert(engine)
    moved: dict[str, int] = {}
    at = sa.literal((archived_at or _utc_now()).astimezone(dt.UTC), sa.DateTime(timezone=True))
    with engine.begin() as conn:
        serialize_writers(conn, "news")
        for live, archive, key in (
            (schema.news_sentiment, schema.news_sentiment_archive, ("article_id", "symbol")),
            (schema.news_articles, schema.news_articles_archive, ("article_id",)),
        ):
            columns = [c.name for c in live.columns]
            select = sa.select(*live.c, at).where(live.c.date < cutoff)
            stmt = insert(archive).from_select([*columns, "archived_at"], select)
            stmt = stmt.on_conflict_do_update(
                index_elements=[archive.c[k] for k in key],
                set_={c: stmt.excluded[c] for c in [*columns, "archived_at"] if c not in key},
            )
            conn.execute(stmt)
            held = sa.exists().where(*(archive.c[k] == live.c[k] for k in key))
            moved[live.name] = conn.execute(live.delete().where(live.c.date < cutoff, held)).rowcount or 0
        count = sa.func.count()
        articles_live = conn.execute(sa.select(count).select_from(schema.news_articles)).scalar_one()
        articles_archived = conn.execute(sa.select(count).select_from(schema.news_articles_archive)).scalar_one()
        sentiment_archived = conn.execute(sa.select(count).select_from(schema.news_sentiment_archive)).scalar_one()
    return ArchiveResult(
        cutoff=cutoff,
        articles_moved=moved["news_articles"],
        sentiment_moved=moved["news_sentiment"],
        articles_live=articles_live,
        articles_archived=articles_archived,
        sentiment_archived=sentiment_archived,
    )
