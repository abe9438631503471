"""Full-text search on news, SQLite (FTS5) and PostgreSQL (tsvector + GIN): stemming, every
word required, date filters, articles stored before the migration, archived articles gone, and
`autoindex news search`."""

import datetime as dt

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from autoindex_pipeline.cli import main
from autoindex_pipeline.config import DATABASE_URL_ENV_VAR
from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline.warehouse.news import archive_news
from autoindex_pipeline.warehouse.news_search import search_news
from autoindex_pipeline_tests.conftest import write_config

ARTICLES = [
    ("a" * 40, dt.date(2025, 6, 2), "Apple beats earnings expectations", "Quarterly results above the consensus."),
    ("b" * 40, dt.date(2025, 6, 3), "Exxon cuts output", "Oil major trims production after weak demand."),
    ("c" * 40, dt.date(2025, 6, 4), "Apple unveils a new iPhone", "The event also showed a smaller earning guide."),
    ("d" * 40, dt.date(2025, 5, 1), "Old news about apple pie", "Nothing to do with the company (it's a recipe)."),
]


def _insert(engine, rows):
    now = dt.datetime(2025, 6, 5, tzinfo=dt.UTC)
    values = []
    for article_id, day, title, description in rows:
        values.append({
            "article_id": article_id, "provider": "sample", "provider_id": article_id[:8],
            "published_at": dt.datetime.combine(day, dt.time(14), tzinfo=dt.UTC), "date": day, "title": title,
            "description": description, "url": f"https://example.com/{article_id[:6]}", "source": "example.com",
            "language": "en", **{c.name: now for c in schema.news_articles.columns if c.name == "ingested_at"},
        })
    missing = {c.name for c in schema.news_articles.columns if not c.nullable} - set(values[0])
    assert not missing, missing
    with engine.begin() as conn:
        conn.execute(schema.news_articles.insert(), values)


@pytest.fixture
def engine(warehouse_url):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine, "0010")
    _insert(engine, ARTICLES[:1])  # stored before the search existed: the migration indexes it
    upgrade(engine)
    _insert(engine, ARTICLES[1:])
    return engine


def _ids(frame):
    return [a[0] for a in frame["article_id"]]


def test_every_word_is_required_and_words_are_stemmed(engine):
    assert _ids(search_news(engine, "apple earnings")) == ["a", "c"]  # "earning" in c's description
    assert _ids(search_news(engine, "production")) == ["b"]
    assert sorted(_ids(search_news(engine, "apple"))) == ["a", "c", "d"]
    assert _ids(search_news(engine, "apple", start=dt.date(2025, 6, 1), end=dt.date(2025, 6, 3))) == ["a"]
    assert search_news(engine, "tesla").empty
    assert len(search_news(engine, "apple", limit=2)) == 2
    # Quotes, colons and dashes never break the query. PostgreSQL reads them as a web search
    # does ("-company": without "company"); SQLite matches the words as given.
    tricky = _ids(search_news(engine, 'it\'s "recipe": -company'))
    assert tricky == ([] if engine.dialect.name == "postgresql" else ["d"])
    with pytest.raises(ValueError, match="empty"):
        search_news(engine, "   ")


def test_archived_articles_leave_the_search(engine):
    archive_news(engine, dt.date(2025, 6, 3))  # moves a and d (dated before the cutoff)
    assert _ids(search_news(engine, "apple")) == ["c"]
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM news_search")).scalar() == 2


def test_the_cli_prints_the_matches(engine, warehouse_url, tmp_path, monkeypatch):
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, warehouse_url)
    path = write_config(tmp_path)
    result = CliRunner().invoke(main, ["news", "search", "apple earnings", "--config", str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Apple beats earnings expectations" in result.output and "https://example.com/aaaaaa" in result.output
    assert "2 article(s)" in result.output
    none = CliRunner().invoke(main, ["news", "search", "tesla", "--config", str(path)], catch_exceptions=False)
    assert none.exit_code == 0 and "no article matches 'tesla'" in none.output
