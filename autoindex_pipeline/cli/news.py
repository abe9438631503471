"""`autoindex news`: news maintenance (the retention job)."""

from __future__ import annotations

import click

from autoindex_pipeline.cli.common import CONFIG_OPTION, load, parse_date, report_run
from autoindex_pipeline.cli.runner import run_news_retention_job


@click.group("news")
def news_group() -> None:
    """News maintenance."""


@news_group.command("archive")
@CONFIG_OPTION
@click.option("--as-of", default=None, help="Reference day (YYYY-MM-DD) retention counts back from; default: today.")
def news_archive(config_path: str | None, as_of: str | None) -> None:
    """Move articles older than news.retention_days to the archive tables (idempotent)."""
    config = load(config_path)
    result = run_news_retention_job(config, config_path, as_of=parse_date(as_of))
    report_run(result)
    meta = result.asset_materializations_for_node("news_archive")[0].metadata
    click.echo(
        f"archived articles dated before {meta['cutoff'].value}: moved {meta['articles_moved'].value:,} articles and "
        f"{meta['sentiment_rows_moved'].value:,} scores; {meta['articles_live'].value:,} articles live, "
        f"{meta['articles_in_archive'].value:,} in the archive"
    )
