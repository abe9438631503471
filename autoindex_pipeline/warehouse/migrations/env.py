"""Alembic environment: run by `autoindex db upgrade` (and on start) through
`autoindex_pipeline.warehouse.migrate`, which hands it a live connection."""

from __future__ import annotations

from alembic import context

from autoindex_pipeline.warehouse.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic` CLI use: build one from the configured URL
    from autoindex_pipeline.warehouse.engine import create_warehouse_engine

    connection = create_warehouse_engine(config.get_main_option("sqlalchemy.url")).connect()

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place; batch mode rebuilds tables safely there.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
