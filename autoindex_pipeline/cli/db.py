"""`autoindex db`: warehouse maintenance."""

from __future__ import annotations

import click

from autoindex_pipeline.cli.common import CONFIG_OPTION, load
from autoindex_pipeline.warehouse.engine import create_warehouse_engine, safe_url
from autoindex_pipeline.warehouse.migrate import upgrade


@click.group()
def db() -> None:
    """Warehouse maintenance."""


@db.command("upgrade")
@CONFIG_OPTION
def db_upgrade(config_path: str | None) -> None:
    """Apply the Alembic migrations to the configured warehouse."""
    config = load(config_path)
    url = config.database_url()
    revision = upgrade(create_warehouse_engine(url))
    click.echo(f"warehouse {safe_url(url)} is at revision {revision}")
