"""Resources: configuration, warehouse, providers. Chosen per deployment by configuration and
environment (definitions.py), never by `if` statements inside assets."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import PrivateAttr

from autoindex_pipeline.config import AutoIndexConfig, load_config
from autoindex_pipeline.providers.news.base import NewsProvider
from autoindex_pipeline.providers.prices.base import PriceProvider
from autoindex_pipeline.providers.registry import build_news_provider, build_price_provider
from autoindex_pipeline.warehouse.engine import create_warehouse_engine, safe_url
from autoindex_pipeline.warehouse.migrate import upgrade

if TYPE_CHECKING:
    import sqlalchemy as sa


class SettingsResource(dg.ConfigurableResource):
    """The validated autoindex.yaml (universe, providers, strategies)."""

    config_path: str | None = None

    @cached_property
    def config(self) -> AutoIndexConfig:
        return load_config(self.config_path)


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse database. ``url`` may carry a password: pass it as
    ``dg.EnvVar("AUTOINDEX_DATABASE_URL")`` so it never lands in code or run config."""

    url: str
    _engine: sa.Engine | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Alembic on start: a run never writes to a schema older than its code.
        self._engine = create_warehouse_engine(self.url)
        revision = upgrade(self._engine)
        if context.log:
            context.log.debug(f"warehouse {safe_url(self.url)} at revision {revision}")

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = create_warehouse_engine(self.url)
        return self._engine


class ProvidersResource(dg.ConfigurableResource):
    """The configured price/shares and news providers, built through ``providers.registry``."""

    settings: SettingsResource
    secrets: dict[str, str] = {}
    """Provider name -> its secret. Pass ``dg.EnvVar`` values (``build_resources`` does): Dagster
    then keeps only the variable's name in run config and snapshots, and resolves it at run time."""

    def build(self, kind: str) -> PriceProvider:
        """A price provider by name (the configured one, or a second source for reconciliation)."""
        return build_price_provider(self.settings.config, kind, api_key=self.secrets.get(kind))

    def prices(self) -> PriceProvider:
        return self.build(self.settings.config.providers.prices)

    def shares(self) -> PriceProvider:
        return self.build(self.settings.config.providers.shares_provider)

    def news(self) -> NewsProvider:
        """A new news provider per call (the caller closes it when it has a ``close``)."""
        config = self.settings.config
        return build_news_provider(config, api_token=self.secrets.get(config.news.provider))
