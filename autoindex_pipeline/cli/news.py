"""`autoindex news`: news maintenance (the retention job) and full-text search."""

from __future__ import annotations

import click

from autoindex_pipeline.cli.common import CONFIG_OPTION, fail, load, parse_date, report_run
from autoindex_pipeline.cli.runner import run_news_retention_job, warehouse_engine


@click.group("news")
def news_group() -> None:
    """News maintenance and search."""


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


@news_group.command("search")
@CONFIG_OPTION
@click.argument("query")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="At most this many articles.")
@click.option("--start", default=None, help="Only articles dated on or after this day (YYYY-MM-DD).")
@click.option("--end", default=None, help="Only articles dated on or before this day (YYYY-MM-DD).")
def news_search(config_path: str | None, query: str, limit: int, start: str | None, end: str | None) -> None:
    """Full-text search of the stored (not archived) articles: every word must occur in the
    title or description (stemmed), best match first."""
    from autoindex_pipeline.warehouse.news_search import search_news

    config = load(config_path)
    if not query.split():
        fail("the search query is empty")
    found = search_news(warehouse_engine(config), query, limit=limit, start=parse_date(start, "--start"),
                        end=parse_date(end, "--end"))
    if found.empty:
        click.echo(f"no article matches {query!r}")
        return
    for r in found.itertuples(index=False):
        click.echo(f"{r.published_at:%Y-%m-%d %H:%M}  {r.source[:24]:<24}  {r.title}")
        click.echo(f"{'':18}{r.url}")
    click.echo(f"{len(found)} article(s)" + (f" (the best {limit}; --limit for more)" if len(found) == limit else ""))
