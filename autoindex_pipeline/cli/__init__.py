"""`autoindex`: drive the pipeline without the UI.

Every command runs the same Dagster definitions the UI shows, in a real Dagster instance, so a
run started here appears in `dagster dev` with its partitions, logs and metadata. How a job is
run: `cli/runner.py`; one module per command group; the closing summary: `cli/summary.py`.
"""

from __future__ import annotations

import logging

import click

from autoindex_pipeline.cli.common import AutoIndexGroup, Settings
from autoindex_pipeline.cli.console import Console
from autoindex_pipeline.cli.db import db
from autoindex_pipeline.cli.demo import demo
from autoindex_pipeline.cli.export import export
from autoindex_pipeline.cli.news import news_group
from autoindex_pipeline.cli.quality import quality
from autoindex_pipeline.cli.run import run


@click.group(cls=AutoIndexGroup)
@click.option("--verbose", is_flag=True, default=False,
              help="Show the traceback of an error (and full step errors) instead of the short message.")
def main(verbose: bool) -> None:
    """AutoIndex: a rules-based equity index as a Dagster asset graph."""
    Settings.verbose = Console.tracebacks = verbose
    Console.heartbeat = True
    logging.getLogger("alembic").setLevel(logging.WARNING)


for command in (demo, run, export, news_group, quality, db):
    main.add_command(command)

if __name__ == "__main__":
    main()
