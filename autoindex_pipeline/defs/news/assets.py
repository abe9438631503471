"""News and sentiment (domain spec section 9): articles, a score per (article, symbol), and the
daily aggregate per symbol, partitioned by calendar day in the exchange's time zone.

Partition D covers articles published in [D 00:00, D+1 00:00) New York time (news happens on
weekends too, so every calendar day is a partition); today's partition exists from midnight
(``end_offset=1``) and is fetched up to "now", so refreshing it every 15 minutes adds what
arrived since. A backfill of any range is ONE run (``BackfillPolicy.single_run``): one provider
fetch, one deduplication, one transaction.

Why one step for three assets: the sentiment rows carry the provider's entity data (which
symbols an article names, its match and sentiment scores), which exists only in the fetch, and
"nothing stored half" means articles, keys, scores and the daily aggregate commit together. The
UI still shows three assets with their own lineage and metadata.

How a run treats an article the warehouse already holds (found through the stored dedup keys):
one of these days' articles is re-scored (its scores upserted, never duplicated); a copy of an
article stored under another day, or of an archived one, is counted as a duplicate and changes
nothing, so each run owns exactly its days and re-running a day changes no row count.
"""

import datetime as dt
from collections.abc import Callable
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from autoindex_pipeline.defs.progress import FetchProgress, fetch_or_fail
from autoindex_pipeline.defs.quality.results import check_result, check_specs
from autoindex_pipeline.defs.reference.assets import failure_summary, universe_assets
from autoindex_pipeline.defs.resources import ProvidersResource, SettingsResource, WarehouseResource
from autoindex_pipeline.defs.shared import CODE_VERSION, OWNERS, asset_tags, column_schema, partition_date_range
from autoindex_pipeline.domain.calendar import EXCHANGE_TIMEZONE
from autoindex_pipeline.providers.news.base import NewsFetchResult, NewsProvider
from autoindex_pipeline.services.news import aggregate_daily, prepare_news, top_movers_markdown, utc_window
from autoindex_pipeline.warehouse import news as news_store

NEWS_ASSET_KEYS = ("news_articles", "news_sentiment", "sentiment_daily")

NEWS_ARTICLES_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("article_id", "string", description="SHA-1 of the first-seen provider id; primary key"),
        dg.TableColumn("provider", "string", description="sample | files | marketaux (or the files' own)"),
        dg.TableColumn("provider_id", "string", description="The provider's id (Marketaux uuid)"),
        dg.TableColumn("published_at", "timestamp", description="UTC"),
        dg.TableColumn("date", "date", description="Publication date in America/New_York: the partition"),
        dg.TableColumn("title", "string"),
        dg.TableColumn("description", "string"),
        dg.TableColumn("url", "string", description="As delivered"),
        dg.TableColumn("source", "string", description="Publisher, usually a domain"),
        dg.TableColumn("language", "string"),
        dg.TableColumn("ingested_at", "timestamp", description="UTC time of the first write"),
    ]
)
NEWS_SENTIMENT_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("article_id", "string", description="Primary key with symbol"),
        dg.TableColumn("symbol", "string", description="A universe symbol the article mentions"),
        dg.TableColumn("score", "float", description="Sentiment in [-1, 1]"),
        dg.TableColumn("model", "string", description="<provider>-entity, or vader-<version> on title + description"),
        dg.TableColumn("match_score", "float", description="Provider's relevance of the symbol (NULL if none)"),
        dg.TableColumn("provider_sentiment", "float", description="Provider's entity sentiment (NULL if none)"),
        dg.TableColumn("date", "date", description="The article's date (America/New_York)"),
        dg.TableColumn("computed_at", "timestamp"),
    ]
)
SENTIMENT_DAILY_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("symbol", "string", description="Primary key with date"),
        dg.TableColumn("date", "date", description="America/New_York calendar day"),
        dg.TableColumn("article_count", "int", description="Articles mentioning the symbol that day"),
        dg.TableColumn("mean_score", "float"),
        dg.TableColumn("share_positive", "float", description="Share of scores > 0.05"),
        dg.TableColumn("share_negative", "float", description="Share of scores < -0.05"),
        dg.TableColumn("computed_at", "timestamp"),
    ]
)


def _close(provider: NewsProvider) -> None:
    close: Callable[[], None] | None = getattr(provider, "close", None)
    if close is not None:
        close()


def _fetch(context: dg.AssetExecutionContext, provider: NewsProvider, symbols: list[str], lo, hi) -> NewsFetchResult:
    with FetchProgress(context.log, f"news {lo:%Y-%m-%d %H:%M}..{hi:%Y-%m-%d %H:%M} UTC", len(symbols)) as progress:
        try:
            return fetch_or_fail(lambda: provider.fetch_news(symbols, lo, hi, progress=progress), provider.name)
        except ValueError as exc:
            # A provider frame that fails validation is a malformed payload too.
            raise dg.Failure(description=f"{provider.name}: {exc}") from None


# --------------------------------------------------------------------------------------------
# Assets


NEWS_CHECK_SPECS = check_specs("news_articles", "news_sentiment")


def news_check_results(engine, cfg, window, first_day, last_day):
    """The news checks over the days this run wrote."""
    from autoindex_pipeline.domain import quality

    articles = news_store.read_news_articles(engine, first_day, last_day)
    yield check_result(quality.check_news_duplicates(articles), "news_articles")
    yield check_result(quality.check_news_missing_symbols(window, cfg.symbols), "news_sentiment")
    now = pd.Timestamp.now(tz="UTC")
    if last_day >= now.tz_convert("America/New_York").date():  # staleness is about today's feed
        stale = quality.check_news_stale(articles, now, cfg.news.stale_after_hours, calendar=cfg.prices.calendar)
    else:
        stale = quality.CheckOutcome(
            name="news_stale", passed=True, severity=quality.severity_of("news_stale"), observed=0.0, threshold=cfg.news.stale_after_hours,
            description="past days: staleness is judged on today's partition only",
            offending=pd.DataFrame(columns=["symbol", "date", "value", "reason", "severity"]),
            per_symbol_pass_rate=pd.Series(dtype=float),
        )
    yield check_result(stale, "news_articles")


def build_news_assets(partitions_def: dg.PartitionsDefinition, stale_after_hours: int) -> dg.AssetsDefinition:
    freshness = dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=stale_after_hours))
    specs = [
        dg.AssetSpec(
            "news_articles",
            group_name="news",
            kinds={"sql"},
            deps=[universe_assets],
            freshness_policy=freshness,
            metadata={"dagster/column_schema": NEWS_ARTICLES_SCHEMA},
            owners=OWNERS, tags=asset_tags("news", tier="support"), code_version=CODE_VERSION,
            description="Financial news about the universe, deduplicated (provider id, normalised URL, "
            "title within 24 h), one row per article, by publication day in New York.",
        ),
        dg.AssetSpec(
            "news_sentiment",
            group_name="news",
            kinds={"sql"},
            deps=["news_articles"],
            metadata={"dagster/column_schema": NEWS_SENTIMENT_SCHEMA},
            owners=OWNERS, tags=asset_tags("news", tier="support"), code_version=CODE_VERSION,
            description="Sentiment per (article, symbol) in [-1, 1]: the provider's entity score when it "
            "gives one, else VADER on title + description; every score names its model.",
        ),
        dg.AssetSpec(
            "sentiment_daily",
            group_name="news",
            kinds={"sql"},
            deps=["news_sentiment"],
            metadata={"dagster/column_schema": SENTIMENT_DAILY_SCHEMA},
            owners=OWNERS, tags=asset_tags("news", tier="support"), code_version=CODE_VERSION,
            description="Per symbol and New York day: article count, mean score, share positive / negative; "
            "the metadata shows which articles moved which symbol's sentiment.",
        ),
    ]

    @dg.multi_asset(
        name="news_assets",
        specs=specs,
        check_specs=NEWS_CHECK_SPECS,
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        can_subset=False,
        # Provider calls are rate limited: news fetches of concurrent runs take turns.
        pool="provider_news",
    )
    def news_assets(
        context: dg.AssetExecutionContext,
        settings: SettingsResource,
        warehouse: WarehouseResource,
        providers: ProvidersResource,
    ):
        """Fetch the days' news for the universe, deduplicate against what is stored, score each
        (article, symbol), and store articles, keys, scores and the daily aggregate in one
        transaction."""
        cfg = settings.config
        first_day, last_day = partition_date_range(context)
        days = (last_day - first_day).days + 1
        lo, hi = utc_window(first_day, last_day)
        symbols = cfg.symbols
        provider = providers.news()
        try:
            if lo < hi:
                context.log.info(f"fetching news for {len(symbols)} symbols from {provider.name}: {first_day}..{last_day}")
                fetched = _fetch(context, provider, symbols, lo, hi)
            else:  # a partition that has not started yet: nothing can have been published
                fetched = _empty_fetch()
        finally:
            _close(provider)

        if fetched.failures:
            context.log.warning(f"{len(fetched.failures)} symbols not fully covered: {failure_summary(fetched.failures)}")
            if set(fetched.failures) >= set(symbols) and fetched.articles.empty:
                raise dg.Failure(
                    description=f"{provider.name} delivered no news for {first_day}..{last_day}; nothing was written: "
                    f"{failure_summary(fetched.failures, limit=3)}",
                    metadata={"failures": failure_summary(fetched.failures), **fetched.stats.as_metadata()},
                )

        batch = prepare_news(warehouse.engine, fetched, first_day, last_day)
        written = news_store.write_news(
            warehouse.engine, batch.articles, batch.keys, batch.sentiment, first_day, last_day, aggregate_daily
        )
        window = written.window
        report = batch.report
        context.log.info(
            f"{report.input_articles} articles fetched, {written.articles_written} new, "
            f"{batch.already_stored} already stored, {report.input_articles - report.output_articles} merged duplicates; "
            f"{written.sentiment_written} scores, {written.daily_written} daily rows"
        )

        stored_articles = int(window["article_id"].nunique())
        per_article = window.groupby("article_id")["symbol"].nunique()
        yield dg.MaterializeResult(
            asset_key="news_articles",
            metadata={
                "dagster/row_count": stored_articles,
                "first_day": str(first_day),
                "last_day": str(last_day),
                "window_utc": f"{lo.isoformat()} .. {hi.isoformat()}",
                "provider": provider.name,
                "articles_fetched": report.input_articles,
                "articles_new": written.articles_written,
                "duplicates": dg.MetadataValue.json(
                    {
                        "same_provider_id": report.merged_same_provider_id,
                        "same_url": report.merged_same_url,
                        "same_title_within_24h": report.merged_same_title,
                        "already_stored_refetched": batch.already_stored,
                        "stored_under_another_day": batch.other_day,
                        "archived": batch.archived,
                        "existing_conflicts": report.existing_conflicts,
                    }
                ),
                "keys_written": written.keys_written,
                "symbols_requested": len(symbols),
                "symbols_covered": len(fetched.fetched_symbols),
                "symbols_failed": len(fetched.failures),
                "failures": failure_summary(fetched.failures),
                "newest_article": str(window["published_at"].max()) if len(window) else "",
                **fetched.stats.as_metadata(),
            },
        )
        models = window["model"].value_counts().sort_index()
        yield dg.MaterializeResult(
            asset_key="news_sentiment",
            metadata={
                "dagster/row_count": len(window),
                "scores_written": written.sentiment_written,
                "models": dg.MetadataValue.json({str(k): int(v) for k, v in models.items()}),
                "models_this_run": dg.MetadataValue.json(
                    {str(k): int(v) for k, v in batch.sentiment["model"].value_counts().sort_index().items()}
                ),
                "mean_score": _float(window["score"].mean()),
                "symbols_covered": int(window["symbol"].nunique()),
                "multi_symbol_articles": int((per_article > 1).sum()),
            },
        )
        daily = written.daily
        yield dg.MaterializeResult(
            asset_key="sentiment_daily",
            metadata={
                "dagster/row_count": written.daily_written,
                "rows_replaced": written.daily_deleted,
                "days_with_news": int(daily["date"].nunique()),
                "symbols": int(daily["symbol"].nunique()),
                "mean_score": _float(window["score"].mean()),
                "share_positive": _float((window["score"] > 0.05).mean()),
                "share_negative": _float((window["score"] < -0.05).mean()),
                "top_movers": dg.MetadataValue.md(top_movers_markdown(window, days)),
            },
        )
        yield from news_check_results(warehouse.engine, cfg, window, first_day, last_day)

    return news_assets


def _empty_fetch() -> NewsFetchResult:
    from autoindex_pipeline.providers.news.base import empty_articles_frame, empty_entities_frame

    return NewsFetchResult(empty_articles_frame(), empty_entities_frame())


def _float(value: Any) -> float | None:
    return None if pd.isna(value) else round(float(value), 6)


class NewsArchiveConfig(dg.Config):
    as_of: str | None = Field(
        default=None,
        description="Reference day (YYYY-MM-DD) the retention counts back from; default: today in New York.",
    )


@dg.asset(
    name="news_archive",
    group_name="news",
    kinds={"sql"},
    deps=["news_articles", "news_sentiment"],
    owners=OWNERS,
    tags=asset_tags("news", tier="support"),
    code_version=CODE_VERSION,
    metadata={"dagster/column_schema": column_schema("news_articles_archive", "news_sentiment_archive")},
)
def news_archive(
    context: dg.AssetExecutionContext,
    config: NewsArchiveConfig,
    settings: SettingsResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Retention: articles (and their scores) dated more than ``news.retention_days`` before
    today move to ``news_articles_archive`` / ``news_sentiment_archive``, in one transaction.
    Nothing is deleted that is not in the archive; running it again moves nothing more. Dedup
    keys and ``sentiment_daily`` stay, so an archived article is never stored again and the
    strategy keeps its sentiment history."""
    retention = settings.config.news.retention_days
    today = pd.Timestamp(config.as_of).date() if config.as_of else pd.Timestamp.now(tz=EXCHANGE_TIMEZONE).date()
    cutoff = today - dt.timedelta(days=retention)
    result = news_store.archive_news(warehouse.engine, cutoff)
    context.log.info(
        f"moved {result.articles_moved} articles and {result.sentiment_moved} scores dated before {cutoff} to the archive"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.articles_archived,
            "retention_days": retention,
            **result.as_metadata(),
        }
    )
