"""The news domain: articles, sentiment and its daily aggregate, the retention job and the 15-minute refresh."""

import dagster as dg

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.defs.news.assets import build_news_assets, news_archive
from autoindex_pipeline.defs.news.partitions import news_day_partitions
from autoindex_pipeline.defs.news.schedules import build_news_schedule

NEWS_JOB = "news_job"
NEWS_RETENTION_JOB = "news_retention_job"


def build(config: AutoIndexConfig) -> dg.Definitions:
    partitions = news_day_partitions(config.news.start_date)
    news_assets = build_news_assets(partitions, config.news.stale_after_hours)
    news_job = dg.define_asset_job(
        NEWS_JOB,
        selection=[news_assets],
        partitions_def=partitions,
        description="Fetch, deduplicate and score the news of a range of days (today's partition: up to now).",
    )
    retention_job = dg.define_asset_job(
        NEWS_RETENTION_JOB,
        selection=[news_archive],
        description="Move articles older than news.retention_days to the archive tables (idempotent).",
    )
    return dg.Definitions(
        assets=[news_assets, news_archive],
        jobs=[news_job, retention_job],
        schedules=[build_news_schedule(NEWS_JOB, config.news.provider, config.news.start_date)],
    )
