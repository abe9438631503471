"""Full-text search over the live news articles (migration 0011): PostgreSQL's English text
search (``websearch_to_tsquery`` against the GIN-indexed ``tsvector``, ranked by ``ts_rank``),
SQLite's FTS5 (``news_search`` with porter stemming, ranked by ``bm25``). Every word of the query
must occur (stemmed: "earnings" finds "earning"); on PostgreSQL ``"a phrase"``, ``or`` and
``-word`` work as in a web search engine, on SQLite the words are matched as given."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.warehouse.engine import is_postgres

RESULT_COLUMNS = ["article_id", "published_at", "date", "provider", "source", "title", "url", "rank"]

# The expression the GIN index is built on: the query must repeat it exactly to use the index.
_PG_DOCUMENT = "to_tsvector('english', title || ' ' || description)"


def _fts5_query(text: str) -> str:
    """Each word as a quoted FTS5 string (no operator or column syntax from the user), all
    required, in the title and description columns."""
    words = [w.replace('"', '""') for w in text.split() if w.strip('"')]
    return "{title description} : (" + " ".join(f'"{w}"' for w in words) + ")"


def search_news(engine: sa.Engine, query: str, *, limit: int = 20, start: dt.date | None = None,
                end: dt.date | None = None) -> pd.DataFrame:
    """Articles matching ``query``, best first (then newest), optionally dated ``start..end``."""
    if not query.split():
        raise ValueError("the search query is empty")
    params: dict[str, object] = {"q": query, "limit": int(limit)}
    where = []
    if start is not None:
        where.append("a.date >= :start")
        params["start"] = start
    if end is not None:
        where.append("a.date <= :end")
        params["end"] = end
    extra = "".join(f" AND {w}" for w in where)
    if is_postgres(engine):
        sql = (
            f"SELECT a.article_id, a.published_at, a.date, a.provider, a.source, a.title, a.url, "
            f"ts_rank({_PG_DOCUMENT.replace('title', 'a.title').replace('description', 'a.description')}, "
            f"websearch_to_tsquery('english', :q)) AS rank "
            f"FROM news_articles a WHERE {_PG_DOCUMENT.replace('title', 'a.title').replace('description', 'a.description')} "
            f"@@ websearch_to_tsquery('english', :q){extra} ORDER BY rank DESC, a.published_at DESC LIMIT :limit"
        )
    else:
        params["q"] = _fts5_query(query)
        sql = (
            "SELECT a.article_id, a.published_at, a.date, a.provider, a.source, a.title, a.url, -bm25(news_search) AS rank "
            "FROM news_search JOIN news_articles a ON a.article_id = news_search.article_id "
            f"WHERE news_search MATCH :q{extra} ORDER BY bm25(news_search), a.published_at DESC LIMIT :limit"
        )
    with engine.connect() as conn:
        rows = conn.execute(sa.text(sql), params).all()
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    frame["published_at"] = pd.to_datetime(frame["published_at"], utc=True)
    return frame
