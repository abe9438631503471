"""News and sentiment reads: dedup keys, stored articles, the scores of a window, the daily
aggregate, and the top movers of a window.

Live and archived rows are read together where a caller needs the whole history (keys, the
window's scores); times come back as UTC ``datetime64[ns, UTC]``, dates as ``datetime64[ns]``
whichever backend stored them. The writes are in :mod:`autoindex_pipeline.warehouse.news`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.warehouse import schema

# Bound parameters per IN (...) query: under SQLite's and PostgreSQL's limits with room to spare.
_IN_CHUNK = 5_000

WINDOW_COLUMNS = ("article_id", "symbol", "score", "model", "date", "published_at", "title", "source")
DAILY_COLUMNS = ("symbol", "date", "article_count", "mean_score", "share_positive", "share_negative")


def _chunks(values: Sequence[str]) -> Iterable[list[str]]:
    for i in range(0, len(values), _IN_CHUNK):
        yield list(values[i : i + _IN_CHUNK])


def _member_of(conn: sa.Connection, column: sa.ColumnElement, values: Sequence[str]) -> Iterable[sa.ColumnElement]:
    """WHERE clauses that together select ``column IN values``: one ``= ANY(array)`` on
    PostgreSQL (a single bound parameter, several times faster than 5,000-parameter IN lists),
    chunked IN lists on SQLite (which has no arrays and caps bound parameters)."""
    if not values:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        yield column == sa.any_(sa.literal(list(values), ARRAY(sa.Text)))
        return
    for chunk in _chunks(values):
        yield column.in_(chunk)


def _utc(values: pd.Series) -> pd.Series:
    # SQLite returns naive UTC text, PostgreSQL aware datetimes: both become datetime64[ns, UTC].
    return pd.to_datetime(values, utc=True, format="mixed").astype("datetime64[ns, UTC]")


def _naive_dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).astype("datetime64[ns]")


def read_keys(engine: sa.Engine, keys: Iterable[str]) -> pd.DataFrame:
    """Stored dedup keys among ``keys``: ``key, article_id, published_at`` (UTC). Exactly what
    :func:`autoindex_pipeline.domain.news.deduplicate` needs as ``existing_keys`` for a batch
    whose keys are ``keys`` (title keys carry their time, so its 24-hour rule still applies)."""
    wanted = sorted({k for k in keys if k})
    table = schema.news_article_keys
    frames = []
    with engine.connect() as conn:
        for member in _member_of(conn, table.c.key, wanted):
            frames.append(pd.read_sql(sa.select(table).where(member), conn))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(schema.NEWS_KEY_WRITE_COLUMNS))
    return pd.DataFrame(
        {
            "key": frame["key"].astype("str"),
            "article_id": frame["article_id"].astype("str"),
            "published_at": _utc(frame["published_at"]),
        }
    )


def read_stored_articles(engine: sa.Engine, article_ids: Iterable[str]) -> pd.DataFrame:
    """Where and how the given articles are stored: ``article_id, published_at, date, title,
    description, archived`` (live rows win if an id were in both tables). Ids stored nowhere are
    absent."""
    ids = sorted(set(article_ids))
    live, archive = schema.news_articles, schema.news_articles_archive
    frames = []
    with engine.connect() as conn:
        for table, archived in ((live, False), (archive, True)):
            for member in _member_of(conn, table.c.article_id, ids):
                stmt = sa.select(
                    table.c.article_id, table.c.published_at, table.c.date, table.c.title, table.c.description
                ).where(member)
                frames.append(pd.read_sql(stmt, conn).assign(archived=archived))
    if not frames:
        frame = pd.DataFrame({c: [] for c in ("article_id", "published_at", "date", "title", "description", "archived")})
    else:
        frame = pd.concat(frames, ignore_index=True)
    frame = frame.sort_values(["article_id", "archived"], kind="stable").drop_duplicates("article_id")
    return pd.DataFrame(
        {
            "article_id": frame["article_id"].astype("str").to_numpy(),
            "published_at": _utc(frame["published_at"]).to_numpy(),
            "date": _naive_dates(frame["date"]).to_numpy(),
            "title": frame["title"].astype("str").to_numpy(),
            "description": frame["description"].astype("str").to_numpy(),
            "archived": frame["archived"].astype(bool).to_numpy(),
        }
    )


def _window_select(live: bool, start: dt.date, end: dt.date) -> sa.Select:
    sentiment = schema.news_sentiment if live else schema.news_sentiment_archive
    articles = schema.news_articles if live else schema.news_articles_archive
    return (
        sa.select(
            sentiment.c.article_id,
            sentiment.c.symbol,
            sentiment.c.score,
            sentiment.c.model,
            sentiment.c.date,
            articles.c.published_at,
            articles.c.title,
            articles.c.source,
        )
        .join(articles, articles.c.article_id == sentiment.c.article_id)
        .where(sentiment.c.date.between(start, end))
    )


def read_window_sentiment(
    engine_or_conn: sa.Engine | sa.Connection, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None
) -> pd.DataFrame:
    """Every stored (article, symbol) score dated ``start..end``, live and archived, with the
    article's time, title and source (columns :data:`WINDOW_COLUMNS`), sorted by date, symbol,
    article_id."""
    selects = []
    for live in (True, False):
        stmt = _window_select(live, start, end)
        if symbols is not None:
            table = schema.news_sentiment if live else schema.news_sentiment_archive
            stmt = stmt.where(table.c.symbol.in_(list(symbols)))
        selects.append(stmt)
    stmt = sa.union_all(*selects)
    if isinstance(engine_or_conn, sa.Engine):
        with engine_or_conn.connect() as conn:
            frame = pd.read_sql(stmt, conn)
    else:
        frame = pd.read_sql(stmt, engine_or_conn)
    frame = frame.loc[:, list(WINDOW_COLUMNS)]
    out = frame.assign(
        article_id=frame["article_id"].astype("str"),
        symbol=frame["symbol"].astype("str"),
        score=frame["score"].astype("float64"),
        model=frame["model"].astype("str"),
        date=_naive_dates(frame["date"]),
        published_at=_utc(frame["published_at"]),
        title=frame["title"].astype("str"),
        source=frame["source"].astype("str"),
    )
    return out.sort_values(["date", "symbol", "article_id"], kind="stable").reset_index(drop=True)


def read_sentiment_daily(
    engine: sa.Engine,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    symbols: Sequence[str] | None = None,
    as_of: dt.datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Daily sentiment per (symbol, date in the exchange time zone) on ``start..end``
    (inclusive; None = unbounded): ``symbol, date`` (datetime64[ns], like the price frames),
    ``article_count, mean_score, share_positive, share_negative``. A day without articles for a
    symbol has no row (it is not a neutral day). Sorted by (symbol, date).

    What the strategy's sentiment tilt reads: read only dates up to the rebalance date to stay
    point in time. ``as_of``: only rows computed on or before that moment (an as-of index run)."""
    table = schema.sentiment_daily
    stmt = sa.select(*(table.c[c] for c in DAILY_COLUMNS))
    if as_of is not None:
        from autoindex_pipeline.warehouse.revisions import bind_moment

        stmt = stmt.where(table.c.computed_at <= bind_moment(engine, as_of))
    if symbols is not None:
        stmt = stmt.where(table.c.symbol.in_([s.upper() for s in symbols]))
    if start is not None:
        stmt = stmt.where(table.c.date >= pd.Timestamp(start).date())
    if end is not None:
        stmt = stmt.where(table.c.date <= pd.Timestamp(end).date())
    with engine.connect() as conn:
        frame = pd.read_sql(stmt.order_by(table.c.symbol, table.c.date), conn)
    return frame.assign(
        symbol=frame["symbol"].astype("str"),
        date=_naive_dates(frame["date"]),
        article_count=frame["article_count"].astype("int64"),
        mean_score=frame["mean_score"].astype("float64"),
        share_positive=frame["share_positive"].astype("float64"),
        share_negative=frame["share_negative"].astype("float64"),
    )


def read_news_articles(
    engine: sa.Engine, start: dt.date | str | None = None, end: dt.date | str | None = None, archived: bool = False
) -> pd.DataFrame:
    """Stored articles dated ``start..end`` (the live table, or the archive), sorted by
    (published_at, article_id); ``published_at`` as UTC, ``date`` as datetime64[ns]."""
    table = schema.news_articles_archive if archived else schema.news_articles
    stmt = sa.select(table)
    if start is not None:
        stmt = stmt.where(table.c.date >= pd.Timestamp(start).date())
    if end is not None:
        stmt = stmt.where(table.c.date <= pd.Timestamp(end).date())
    with engine.connect() as conn:
        frame = pd.read_sql(stmt.order_by(table.c.published_at, table.c.article_id), conn)
    frame["published_at"] = _utc(frame["published_at"])
    frame["date"] = _naive_dates(frame["date"])
    return frame


def top_movers(window: pd.DataFrame, per_day: int = 3) -> pd.DataFrame:
    """Per date, the ``per_day`` symbols whose sentiment moved most (largest absolute sum of
    their article scores that day, i.e. ``|mean_score| x article_count``), each with the article
    that moved it most (largest absolute score; ties: earliest, then article_id).

    ``window`` has :data:`WINDOW_COLUMNS` (see :func:`read_window_sentiment`). Returns ``date,
    symbol, article_count, mean_score, impact, article_id, title, source, score, model`` sorted
    by date (newest first), then impact."""
    columns = ["date", "symbol", "article_count", "mean_score", "impact", "article_id", "title", "source", "score", "model"]
    if window.empty:
        return pd.DataFrame({c: [] for c in columns})
    grouped = window.groupby(["date", "symbol"], sort=False)["score"]
    per_symbol = pd.DataFrame(
        {"article_count": grouped.size(), "mean_score": grouped.mean(), "total": grouped.sum()}
    ).reset_index()
    per_symbol["impact"] = per_symbol["total"].abs()
    per_symbol = per_symbol.sort_values(["date", "impact", "symbol"], ascending=[False, False, True], kind="stable")
    chosen = per_symbol.groupby("date", sort=False).head(per_day)
    ranked = window.assign(strength=window["score"].abs()).sort_values(
        ["date", "symbol", "strength", "published_at", "article_id"],
        ascending=[True, True, False, True, True],
        kind="stable",
    )
    strongest = ranked.drop_duplicates(["date", "symbol"])
    out = chosen.merge(
        strongest.loc[:, ["date", "symbol", "article_id", "title", "source", "score", "model"]],
        on=["date", "symbol"],
        how="left",
    )
    return out.loc[:, columns].reset_index(drop=True)


def read_top_movers(engine: sa.Engine, start: dt.date, end: dt.date, per_day: int = 3) -> pd.DataFrame:
    """:func:`top_movers` of the stored scores dated ``start..end``."""
    return top_movers(read_window_sentiment(engine, start, end), per_day)
