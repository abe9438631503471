"""News glue between the provider's fetch and the warehouse: deduplicate against the stored keys,
classify re-fetched articles by where they are stored, score each (article, symbol) the run
owns, aggregate per day, and describe the top movers. No Dagster: the news asset calls these and
only adds the run's metadata (defs/news/assets.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from autoindex_pipeline.domain.calendar import EXCHANGE_TIMEZONE
from autoindex_pipeline.domain.news import DedupReport, article_keys, deduplicate
from autoindex_pipeline.domain.sentiment import daily_sentiment, local_dates, score_article_symbols
from autoindex_pipeline.providers.news.base import NewsFetchResult
from autoindex_pipeline.warehouse import news as news_store

# Top movers shown per day in the metadata, and how many days of a long backfill get a table
# (each partition of a single-run backfill stores the same metadata, so it must stay small).
TOP_MOVERS_ONE_DAY = 10
TOP_MOVERS_PER_DAY = 3
TOP_MOVERS_MAX_DAYS = 14


def now_utc() -> pd.Timestamp:
    """The wall clock the news window ends at; one name, so a test can run "today" at a fixed moment."""
    return pd.Timestamp.now(tz="UTC")


def utc_window(first_day: dt.date, last_day: dt.date, now: pd.Timestamp | None = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[first_day 00:00, last_day + 1 00:00) New York time as UTC timestamps, the end capped at
    ``now`` (a provider is never asked for the future; the sample one would invent it)."""
    lo = pd.Timestamp(first_day).tz_localize(EXCHANGE_TIMEZONE).tz_convert("UTC")
    hi = (pd.Timestamp(last_day) + pd.Timedelta(days=1)).tz_localize(EXCHANGE_TIMEZONE).tz_convert("UTC")
    now = now_utc() if now is None else now
    return lo, min(hi, now)


@dataclass
class NewsBatch:
    """What one run writes, and how its fetched rows were classified."""

    articles: pd.DataFrame
    """New articles: ``article_id``, the article columns and ``date``."""
    keys: pd.DataFrame
    sentiment: pd.DataFrame
    """Scores of the new articles and of re-fetched articles of these days."""
    report: DedupReport
    already_stored: int = 0
    other_day: int = 0
    archived: int = 0


def _empty_sentiment() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "article_id": pd.Series([], dtype="str"),
            "symbol": pd.Series([], dtype="str"),
            "score": pd.Series([], dtype="float64"),
            "model": pd.Series([], dtype="str"),
            "match_score": pd.Series([], dtype="float64"),
            "provider_sentiment": pd.Series([], dtype="float64"),
            "date": pd.Series([], dtype="datetime64[ns]"),
        }
    )


def prepare_news(engine, fetched: NewsFetchResult, first_day: dt.date, last_day: dt.date) -> NewsBatch:
    """Deduplicate ``fetched`` against the stored keys, classify re-fetched articles by where
    they are stored, and score every (article, symbol) pair this run owns."""
    if fetched.articles.empty:
        report = DedupReport(input_entities=len(fetched.entities), orphan_entities=len(fetched.entities))
        empty = fetched.articles.assign(article_id=pd.Series([], dtype="str"), date=pd.Series([], dtype="datetime64[ns]"))
        keys = pd.DataFrame({"key": [], "article_id": [], "published_at": pd.Series([], dtype="datetime64[ns, UTC]")})
        return NewsBatch(empty, keys, _empty_sentiment(), report)

    # The batch's own keys, to read back exactly the stored keys it can match.
    wanted = article_keys(fetched.articles.assign(article_id=""))["key"]
    existing = news_store.read_keys(engine, wanted)
    articles, entities, report = deduplicate(fetched.articles, fetched.entities, existing)

    matched = articles.loc[~articles["is_new"], "article_id"]
    stored = news_store.read_stored_articles(engine, matched).set_index("article_id")
    articles["date"] = local_dates(articles["published_at"], EXCHANGE_TIMEZONE).to_numpy()
    where = stored.reindex(articles["article_id"])
    in_days = where["date"].between(pd.Timestamp(first_day), pd.Timestamp(last_day)).to_numpy()
    archived = where["archived"].eq(True).to_numpy()
    known = where["date"].notna().to_numpy()
    # Keys without a stored article (cannot happen through this module, which writes both in
    # one transaction) would otherwise hide the article forever: store it as new.
    is_new = articles["is_new"].to_numpy() | ~known
    live_here = ~is_new & ~archived & in_days
    # A stored article keeps its day and is scored on its stored text (a re-fetched copy may be
    # the upper-cased syndicated title, which VADER reads as shouting).
    for column in ("date", "title", "description"):
        articles.loc[live_here, column] = where[column].to_numpy()[live_here]
    owned = articles.loc[is_new | live_here]
    scored_entities = entities.loc[entities["article_id"].isin(owned["article_id"])]

    scores = score_article_symbols(owned, scored_entities)
    sentiment = scores.merge(
        scored_entities.loc[:, ["article_id", "symbol", "match_score", "provider_sentiment"]],
        on=["article_id", "symbol"],
        how="left",
        validate="one_to_one",
    ).merge(owned.loc[:, ["article_id", "date"]], on="article_id", how="left", validate="many_to_one")
    return NewsBatch(
        articles=articles.loc[is_new].drop(columns=["is_new"]).reset_index(drop=True),
        keys=report.keys,
        sentiment=sentiment,
        report=report,
        already_stored=int(live_here.sum()),
        other_day=int((~is_new & ~archived & ~in_days).sum()),
        archived=int((~is_new & archived).sum()),
    )


def aggregate_daily(window: pd.DataFrame) -> pd.DataFrame:
    """``sentiment_daily`` rows from every stored score of the run's days (domain.sentiment)."""
    return daily_sentiment(window, window.loc[:, ["article_id", "published_at"]], tz=EXCHANGE_TIMEZONE)


def _cell(text: object, width: int = 90) -> str:
    value = " ".join(str(text).split()).replace("|", "\\|")
    return value if len(value) <= width else value[: width - 1] + "…"


def top_movers_markdown(window: pd.DataFrame, days: int) -> str:
    """Which articles moved which symbol's sentiment, per day (newest days first)."""
    per_day = TOP_MOVERS_ONE_DAY if days == 1 else TOP_MOVERS_PER_DAY
    movers = news_store.top_movers(window, per_day)
    if movers.empty:
        return "No scored article on these days."
    shown_days = sorted(movers["date"].unique(), reverse=True)[:TOP_MOVERS_MAX_DAYS]
    movers = movers.loc[movers["date"].isin(shown_days)]
    lines = [
        "| date | symbol | articles | mean score | article that moved it most | source | score | model |",
        "|---|---|---:|---:|---|---|---:|---|",
    ]
    for row in movers.itertuples(index=False):
        lines.append(
            f"| {pd.Timestamp(row.date).date()} | {row.symbol} | {row.article_count} | {row.mean_score:+.3f} "
            f"| {_cell(row.title)} | {_cell(row.source, 40)} | {row.score:+.3f} | {row.model} |"
        )
    if len(shown_days) < window["date"].nunique():
        lines.append(
            f"\nNewest {len(shown_days)} days shown; materialize one day (or query news_sentiment) for the others."
        )
    return "\n".join(lines)
