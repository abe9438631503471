"""The warehouse tables (SQLAlchemy Core). Alembic migrations create them; this module is the
single description the loaders, readers and the migration check compare against.

Tables are named as in the systems this project replaces (`assets`, `prices`,
`market_cap_data`), so users and other tools can query them directly.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

assets = sa.Table(
    "assets",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("asset_class", sa.String(16), nullable=False),
    sa.Column("sector", sa.String(64), nullable=False),
    sa.Column("is_benchmark", sa.Boolean, nullable=False, default=False),
    sa.Column("in_universe", sa.Boolean, nullable=False, default=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

prices = sa.Table(
    "prices",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    # Raw provider values: cleaning (forward fill, return caps) happens when computing, so a
    # bad print stays visible to quality checks instead of being silently "fixed".
    sa.Column("open", sa.Float),
    sa.Column("high", sa.Float),
    sa.Column("low", sa.Float),
    sa.Column("close", sa.Float),
    sa.Column("volume", sa.Float),
    sa.Column("adj_close", sa.Float),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_prices_date", "date"),
)

market_cap_data = sa.Table(
    "market_cap_data",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    # Point in time: the figure is known from this date on (market cap at t uses the latest
    # row with date <= t).
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("shares_outstanding", sa.Float, nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
)

# Splits and cash dividends (methodology section 2a), one row per (symbol, ex-date, kind).
# `first_seen` is when the warehouse first recorded the event as it stands (a changed ratio or
# amount is a new observation): a computation as of T uses only events first seen on or before T.
corporate_actions = sa.Table(
    "corporate_actions",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("ex_date", sa.Date, primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("ratio", sa.Float),
    sa.Column("amount", sa.Float),
    sa.Column("currency", sa.String(8)),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Bitemporal prices (migration 0014): every value a (symbol, date) ever had, with when the
# warehouse recorded it. `prices` is the current view; `load.replace_prices` adds a revision in
# the same transaction only when a key's value is new or changed, and a `withdrawn` one (values
# NULL) when a write removes a stored row. An as-of read takes each key's newest revision recorded
# on or before the moment.
price_revisions = sa.Table(
    "price_revisions",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("recorded_at", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("open", sa.Float),
    sa.Column("high", sa.Float),
    sa.Column("low", sa.Float),
    sa.Column("close", sa.Float),
    sa.Column("volume", sa.Float),
    sa.Column("adj_close", sa.Float),
    sa.Column("source", sa.String(32)),
    sa.Column("withdrawn", sa.Boolean, nullable=False),
    sa.Index("ix_price_revisions_recorded_at", "recorded_at"),
)

PRICE_REVISION_VALUES = ("open", "high", "low", "close", "volume", "adj_close", "source")

PRICE_WRITE_COLUMNS = ("symbol", "date", "open", "high", "low", "close", "volume", "adj_close", "source", "ingested_at")
SHARES_WRITE_COLUMNS = ("symbol", "date", "shares_outstanding", "source", "ingested_at")

# --- strategy, index and metrics (methodology sections 3-8) ---------------------------------
# Every row names the strategy and the content hash of the config that produced it, so a config
# change is a new version beside the old rows, never a silent rewrite of history.

strategy_configs = sa.Table(
    "strategy_configs",
    metadata,
    sa.Column("strategy", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(16), primary_key=True),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("is_current", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

allocations = sa.Table(
    "allocations",
    metadata,
    sa.Column("strategy", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("weight", sa.Float, nullable=False),
    sa.Column("momentum_weight", sa.Float, nullable=False),
    sa.Column("market_cap_weight", sa.Float, nullable=False),
    sa.Column("risk_parity_weight", sa.Float, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
)

# Each sleeve's part of each allocation, one row per sleeve (domain.sleeves.sleeve_rows), so a
# new sleeve is new rows, not a new column. Rows computed before this table existed carry the
# contribution only (sleeve_weight and signal NULL).
allocation_sleeves = sa.Table(
    "allocation_sleeves",
    metadata,
    sa.Column("strategy", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("sleeve", sa.String(32), primary_key=True),
    sa.Column("contribution", sa.Float, nullable=False),
    sa.Column("sleeve_weight", sa.Float),
    sa.Column("signal", sa.Float),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
)

index_values = sa.Table(
    "index_values",
    metadata,
    sa.Column("strategy", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("level", sa.Float, nullable=False),
    sa.Column("daily_return", sa.Float),
    sa.Column("turnover", sa.Float),
    sa.Column("cost", sa.Float),
    sa.Column("is_rebalance", sa.Boolean, nullable=False),
    sa.Column("benchmark_level", sa.Float),
    sa.Column("benchmark_return", sa.Float),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    # The price-return series (section 2a) from the same targets; `level` is the total return.
    # NULL on rows written before migration 0008.
    sa.Column("price_level", sa.Float),
    sa.Column("price_daily_return", sa.Float),
    sa.Column("price_turnover", sa.Float),
    sa.Column("price_cost", sa.Float),
    sa.Column("price_benchmark_level", sa.Float),
    sa.Column("price_benchmark_return", sa.Float),
    # The data version the row was computed from (migration 0014): the `--as-of` moment of an
    # as-of run, else the newest price ingestion / event observation the computation saw.
    sa.Column("data_as_of", sa.DateTime(timezone=True)),
)

INDEX_SERIES_COLUMNS = ("level", "daily_return", "turnover", "cost", "benchmark_level", "benchmark_return")

# Every index_values row a later write replaced (migration 0014): `published_at` is the replaced
# row's computed_at, `superseded_at` when the replacing write committed. The values as published
# at T are the current rows computed on or before T plus the archived ones published on or before
# T and superseded after it.
index_value_revisions = sa.Table(
    "index_value_revisions",
    metadata,
    sa.Column("strategy", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("published_at", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("data_as_of", sa.DateTime(timezone=True)),
    sa.Column("is_rebalance", sa.Boolean, nullable=False),
    *(sa.Column(name, sa.Float) for name in INDEX_SERIES_COLUMNS),
    *(sa.Column(f"price_{name}", sa.Float) for name in INDEX_SERIES_COLUMNS),
)

index_state = sa.Table(
    "index_state",
    metadata,
    sa.Column("strategy", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("level", sa.Float, nullable=False),
    sa.Column("benchmark_level", sa.Float),
    sa.Column("holdings", sa.Text, nullable=False),
    # Newest moment any index input was recorded when the computation read them (the column
    # keeps its first name; warehouse/index_restart.input_changes): inputs recorded later (a
    # backfill of an old partition, a shares figure, an override) mark the dates from which
    # allocations and the index must be recomputed.
    sa.Column("prices_watermark", sa.DateTime(timezone=True)),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    # The price-return series' level and holdings (section 2a); a state without them (written
    # before migration 0008) makes the next update a full recompute.
    sa.Column("price_level", sa.Float),
    sa.Column("price_benchmark_level", sa.Float),
    sa.Column("price_holdings", sa.Text),
)

RISK_METRIC_COLUMNS = (
    "total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "current_drawdown",
    "calmar", "beta", "correlation", "tracking_error", "information_ratio", "var_95", "win_rate",
)

risk_metrics = sa.Table(
    "risk_metrics",
    metadata,
    sa.Column("strategy", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("n_returns", sa.Integer, nullable=False),
    *(sa.Column(name, sa.Float) for name in RISK_METRIC_COLUMNS),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    # The same metrics of the price-return series (section 2a); the unprefixed ones are of the
    # total-return series.
    *(sa.Column(f"price_{name}", sa.Float) for name in RISK_METRIC_COLUMNS),
)

# --- news and sentiment (domain spec section 9) ----------------------------------------------
# An article is stored once under a stable ``article_id`` (domain.news); its dedup keys are kept
# (and never archived) so a later refresh or another provider finds it again. Sentiment is per
# (article, symbol), always with the model that produced it. ``date`` is the publication date in
# the exchange's time zone: the day partition the row belongs to.

_NEWS_ARTICLE_COLUMNS = (
    ("article_id", sa.String(40), {"primary_key": True}),
    ("provider", sa.String(32), {"nullable": False}),
    ("provider_id", sa.Text, {"nullable": False}),
    ("published_at", sa.DateTime(timezone=True), {"nullable": False}),
    ("date", sa.Date, {"nullable": False}),
    ("title", sa.Text, {"nullable": False}),
    ("description", sa.Text, {"nullable": False}),
    ("url", sa.Text, {"nullable": False}),
    ("source", sa.String(200), {"nullable": False}),
    ("language", sa.String(16), {"nullable": False}),
    ("ingested_at", sa.DateTime(timezone=True), {"nullable": False}),
)
_NEWS_SENTIMENT_COLUMNS = (
    ("article_id", sa.String(40), {"primary_key": True}),
    ("symbol", sa.String(16), {"primary_key": True}),
    ("score", sa.Float, {"nullable": False}),
    ("model", sa.String(64), {"nullable": False}),
    ("match_score", sa.Float, {}),
    ("provider_sentiment", sa.Float, {}),
    ("date", sa.Date, {"nullable": False}),
    ("computed_at", sa.DateTime(timezone=True), {"nullable": False}),
)


def _columns(spec: tuple) -> list[sa.Column]:
    return [sa.Column(name, type_, **kwargs) for name, type_, kwargs in spec]


news_articles = sa.Table(
    "news_articles",
    metadata,
    *_columns(_NEWS_ARTICLE_COLUMNS),
    sa.Index("ix_news_articles_date", "date"),
)

news_article_keys = sa.Table(
    "news_article_keys",
    metadata,
    # id:<provider>:<provider_id>, url:<sha1 of the normalised url>, title:<title hash>
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("article_id", sa.String(40), primary_key=True),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
)

news_sentiment = sa.Table(
    "news_sentiment",
    metadata,
    *_columns(_NEWS_SENTIMENT_COLUMNS),
    sa.Index("ix_news_sentiment_date", "date"),
)

sentiment_daily = sa.Table(
    "sentiment_daily",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("article_count", sa.Integer, nullable=False),
    sa.Column("mean_score", sa.Float, nullable=False),
    sa.Column("share_positive", sa.Float, nullable=False),
    sa.Column("share_negative", sa.Float, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_sentiment_daily_date", "date"),
)

# Retention moves rows here (same columns + archived_at); nothing is deleted outright.
news_articles_archive = sa.Table(
    "news_articles_archive",
    metadata,
    *_columns(_NEWS_ARTICLE_COLUMNS),
    sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_news_articles_archive_date", "date"),
)

news_sentiment_archive = sa.Table(
    "news_sentiment_archive",
    metadata,
    *_columns(_NEWS_SENTIMENT_COLUMNS),
    sa.Column("archived_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_news_sentiment_archive_date", "date"),
)

NEWS_ARTICLE_WRITE_COLUMNS = tuple(name for name, _, _ in _NEWS_ARTICLE_COLUMNS)
NEWS_SENTIMENT_WRITE_COLUMNS = tuple(name for name, _, _ in _NEWS_SENTIMENT_COLUMNS)
NEWS_KEY_WRITE_COLUMNS = ("key", "article_id", "published_at")
SENTIMENT_DAILY_WRITE_COLUMNS = (
    "symbol", "date", "article_count", "mean_score", "share_positive", "share_negative", "computed_at",
)

# --- data quality and performance reports ---------------------------------------------------

price_overrides = sa.Table(
    "price_overrides",
    metadata,
    # A reviewed price row: `accept` (genuine, e.g. a real crash) takes it out of the checks;
    # `exclude` (wrong) also makes the index treat that close as missing. Raw rows never change.
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

quality_audit = sa.Table(
    "quality_audit",
    metadata,
    # Every repair or override, with who / when / why: never silent.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("who", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("symbols", sa.Text),
    sa.Column("date_from", sa.Date),
    sa.Column("date_to", sa.Date),
    sa.Column("reason", sa.Text, nullable=False),
)

quality_scores = sa.Table(
    "quality_scores",
    metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("score", sa.Float),
    sa.Column("colour", sa.String(8), nullable=False),
    sa.Column("worst_check", sa.String(64)),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
)

quality_runs = sa.Table(
    "quality_runs",
    metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("sessions", sa.Integer, nullable=False),
    sa.Column("portfolio_score", sa.Float, nullable=False),
    sa.Column("red", sa.Integer, nullable=False),
    sa.Column("yellow", sa.Integer, nullable=False),
    sa.Column("green", sa.Integer, nullable=False),
    sa.Column("failed_checks", sa.Text, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
)

# Each check's figures in the report of an as-of date (migration 0009): what the CLI summary
# prints, so it says what the checks say.
quality_run_checks = sa.Table(
    "quality_run_checks",
    metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("check_name", sa.String(64), primary_key=True),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("observed", sa.Float),
    sa.Column("threshold", sa.Float),
    sa.Column("offending", sa.Integer, nullable=False),
    sa.Column("evaluated", sa.Integer, nullable=False),
    sa.Column("overridden", sa.Integer, nullable=False),
)


def _report_table(name: str, key: str, *values: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("strategy", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(16), primary_key=True),
        sa.Column("period", sa.String(8), primary_key=True),
        sa.Column("label", sa.String(16), primary_key=True),
        *([sa.Column("section", sa.String(16), primary_key=True)] if key == "metric" else []),
        sa.Column(key, sa.String(64), primary_key=True),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        *(sa.Column(v, sa.Float) for v in values),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )


performance_reports = _report_table("performance_reports", "metric", "index_value", "benchmark_value", "active_value")
performance_contributors = _report_table("performance_contributors", "symbol", "contribution", "avg_weight", "symbol_return")
performance_allocation_changes = _report_table("performance_allocation_changes", "symbol", "weight_start", "weight_end", "change")
# The fingerprint each stored report was rendered from (services/reports.py): a report whose
# figures and chart series hash alike is not drawn again.
performance_report_renders = sa.Table(
    "performance_report_renders",
    metadata,
    sa.Column("strategy", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(16), primary_key=True),
    sa.Column("period", sa.String(8), primary_key=True),
    sa.Column("label", sa.String(16), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("rendered_at", sa.DateTime(timezone=True), nullable=False),
)

# --- the quality gate on the data (what blocks the index, as rows) ----------------------------
# A price row that failed a blocking check is never written to `prices`: its value is kept here,
# with the checks it failed, and the stored row it would have replaced stays as it was.
price_rejections = sa.Table(
    "price_rejections",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("open", sa.Float),
    sa.Column("high", sa.Float),
    sa.Column("low", sa.Float),
    sa.Column("close", sa.Float),
    sa.Column("volume", sa.Float),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("checks", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("replaced_nothing", sa.Boolean, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)

# Every blocking verdict per (symbol, session, check), and how it was resolved: by a later
# delivery of that row that passed, or by an audited override. Never by a run that checked
# fewer rows.
quality_verdicts = sa.Table(
    "quality_verdicts",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("check_name", sa.String(64), primary_key=True),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("resolution", sa.Text),
    sa.Column("resolved_at", sa.DateTime(timezone=True)),
    sa.Column("resolved_run_id", sa.String(64)),
    sa.Index("ix_quality_verdicts_status_date", "status", "date"),
)

# A constituent that has no close on some sessions for a known reason (a trading halt, a
# delisting: `date_to` NULL = from `date_from` on), recorded with who/when/why. Such a session is
# complete for the index without that close (methodology: forward fill, then missing).
price_absences = sa.Table(
    "price_absences",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("symbol", sa.String(16), nullable=False),
    sa.Column("date_from", sa.Date, nullable=False),
    sa.Column("date_to", sa.Date),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_price_absences_symbol", "symbol"),
)

# Alerts the sensors found, waiting for (or done with) delivery: the sensors only record here,
# the `deliver_alerts` sensor sends. The dedup key is the primary key, so an alert recorded twice
# is stored once; `delivered` lists the channels that already have it, so a retry after a
# partial failure sends only to the others.
alert_outbox = sa.Table(
    "alert_outbox",
    metadata,
    sa.Column("dedup_key", sa.String(255), primary_key=True),
    sa.Column("alert", sa.Text, nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("delivered", sa.String(64), nullable=False),
    sa.Index("ix_alert_outbox_status_next", "status", "next_attempt_at"),
)

# Each fetching run's provider calls (every attempt), written even when the run fails, so the
# provider_health sensor counts a run once and sees total outages that materialize nothing.
provider_calls = sa.Table(
    "provider_calls",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("asset", sa.String(64), nullable=False),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("calls", sa.Integer, nullable=False),
    sa.Column("succeeded", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_provider_calls_provider_at", "provider", "at"),
)

# What the daily `capacity` asset measured, one row per (day, kind, name): kind `table` (rows,
# heap and index bytes of a warehouse table), `database` (the whole warehouse), `dagster` (its run
# storage), `disk` (the data directory's file system: total_bytes its size, free_bytes what is free).
# Growth per day and per month is read from this history.
capacity_snapshots = sa.Table(
    "capacity_snapshots",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("rows", sa.BigInteger),
    sa.Column("table_bytes", sa.BigInteger),
    sa.Column("index_bytes", sa.BigInteger),
    sa.Column("total_bytes", sa.BigInteger),
    sa.Column("free_bytes", sa.BigInteger),
    sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
)

# Full-text search on news (migration 0011) lives outside this metadata, per backend: on
# PostgreSQL the GIN index `ix_news_articles_search` on to_tsvector('english', title || ' ' ||
# description); on SQLite the FTS5 table `news_search` (and its shadow tables `news_search_*`)
# with its two triggers. SEARCH_OBJECTS names them, so a schema comparison can leave them out.
SEARCH_OBJECTS = ("ix_news_articles_search", "news_search")


def is_search_object(name: str | None) -> bool:
    return bool(name) and (name in SEARCH_OBJECTS or name.startswith("news_search_"))

# Ownership data for users (migration 0013), not inputs to the methodology: insider transactions
# (keyed by a hash of the row's fields) and institutional holdings per reporting date.
insider_transactions = sa.Table(
    "insider_transactions",
    metadata,
    sa.Column("transaction_id", sa.String(40), primary_key=True),
    sa.Column("symbol", sa.String(16), nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("insider", sa.Text, nullable=False),
    sa.Column("position", sa.Text),
    sa.Column("shares", sa.Float, nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("is_direct", sa.Boolean),
    sa.Column("description", sa.Text),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_insider_transactions_symbol_date", "symbol", "date"),
)

institutional_holdings = sa.Table(
    "institutional_holdings",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("date_reported", sa.Date, primary_key=True),
    sa.Column("holder", sa.String(200), primary_key=True),
    sa.Column("shares", sa.Float, nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("percent_held", sa.Float),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
)
