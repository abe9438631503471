"""Full-text search on the live news articles: on PostgreSQL a GIN index on the English
``tsvector`` of title and description (the expression `warehouse/news_search.py` queries); on
SQLite an FTS5 table ``news_search`` (article_id, title, description; porter stemming) kept in
step with ``news_articles`` by triggers (articles are inserted, and deleted by the archive,
never updated), filled from the articles already stored.

The FTS5 row of an article is found by MATCHing its article_id (one token), never by rowid: a
VACUUM may renumber the rowids of a table without an INTEGER PRIMARY KEY.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

PG_DOCUMENT = "to_tsvector('english', title || ' ' || description)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_news_articles_search ON news_articles USING gin ({PG_DOCUMENT})")
        return
    op.execute("CREATE VIRTUAL TABLE news_search USING fts5(article_id, title, description, tokenize = 'porter unicode61')")
    op.execute("INSERT INTO news_search (article_id, title, description) SELECT article_id, title, description FROM news_articles")
    op.execute(
        "CREATE TRIGGER news_search_insert AFTER INSERT ON news_articles BEGIN "
        "INSERT INTO news_search (article_id, title, description) VALUES (new.article_id, new.title, new.description); END"
    )
    op.execute(
        "CREATE TRIGGER news_search_delete AFTER DELETE ON news_articles BEGIN "
        "DELETE FROM news_search WHERE news_search MATCH 'article_id : \"' || old.article_id || '\"'; END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_news_articles_search")
        return
    op.execute("DROP TRIGGER IF EXISTS news_search_delete")
    op.execute("DROP TRIGGER IF EXISTS news_search_insert")
    op.execute("DROP TABLE IF EXISTS news_search")
