"""News articles, their dedup keys, per-(article, symbol) sentiment, daily sentiment, archives.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _article_columns() -> list[sa.Column]:
    return [
        sa.Column("article_id", sa.String(40), primary_key=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_id", sa.Text, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _sentiment_columns() -> list[sa.Column]:
    return [
        sa.Column("article_id", sa.String(40), primary_key=True),
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("match_score", sa.Float),
        sa.Column("provider_sentiment", sa.Float),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table("news_articles", *_article_columns())
    op.create_index("ix_news_articles_date", "news_articles", ["date"])
    op.create_table(
        "news_article_keys",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("article_id", sa.String(40), primary_key=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table("news_sentiment", *_sentiment_columns())
    op.create_index("ix_news_sentiment_date", "news_sentiment", ["date"])
    op.create_table(
        "sentiment_daily",
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("article_count", sa.Integer, nullable=False),
        sa.Column("mean_score", sa.Float, nullable=False),
        sa.Column("share_positive", sa.Float, nullable=False),
        sa.Column("share_negative", sa.Float, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sentiment_daily_date", "sentiment_daily", ["date"])
    op.create_table(
        "news_articles_archive",
        *_article_columns(),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_news_articles_archive_date", "news_articles_archive", ["date"])
    op.create_table(
        "news_sentiment_archive",
        *_sentiment_columns(),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_news_sentiment_archive_date", "news_sentiment_archive", ["date"])


def downgrade() -> None:
    for table, index in (
        ("news_sentiment_archive", "ix_news_sentiment_archive_date"),
        ("news_articles_archive", "ix_news_articles_archive_date"),
        ("sentiment_daily", "ix_sentiment_daily_date"),
        ("news_sentiment", "ix_news_sentiment_date"),
        ("news_articles", "ix_news_articles_date"),
    ):
        op.drop_index(index, table_name=table)
        op.drop_table(table)
    op.drop_table("news_article_keys")
