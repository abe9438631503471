"""Every provider by name: how to build it from the configuration and which environment variable
holds its secret. The only place that maps a name to a class, so the CLI and the Dagster
resources cannot disagree, and a new vendor is one entry here (plus its settings model and name
in ``config``, which sits below this package and so cannot import it: ``test_registry`` keeps the
two lists equal).

Secrets are handed in by the caller (Dagster resolves them from the environment at run time),
never read from the configuration file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from autoindex_pipeline.config import AutoIndexConfig, ConfigError
from autoindex_pipeline.providers.news.base import NewsProvider
from autoindex_pipeline.providers.prices.base import PriceProvider

P = TypeVar("P")


@dataclass(frozen=True)
class ProviderEntry(Generic[P]):
    build: Callable[[AutoIndexConfig, str | None], P]
    """``(config, secret) -> provider``; ``secret`` is None when ``secret_env_var`` is."""
    secret_env_var: str | None = None


# --------------------------------------------------------------------------------------------
# Prices and shares outstanding


def _sample_prices(config: AutoIndexConfig, secret: str | None) -> PriceProvider:
    from autoindex_pipeline.providers.prices.sample import SampleProvider

    return SampleProvider(config.universe_frame, seed=config.providers.sample.seed, calendar=config.prices.calendar)


def _files_prices(config: AutoIndexConfig, secret: str | None) -> PriceProvider:
    from autoindex_pipeline.providers.prices.files import FilesProvider

    files = config.providers.files
    return FilesProvider(config.resolve(files.prices_path), shares_path=config.resolve(files.shares_path))


def _twelvedata_prices(config: AutoIndexConfig, secret: str | None) -> PriceProvider:
    from autoindex_pipeline.providers.http import RetryPolicy
    from autoindex_pipeline.providers.prices.twelvedata import TwelveDataProvider

    td = config.providers.twelvedata
    return TwelveDataProvider(
        api_key=secret,
        base_url=td.base_url,
        batch_size=td.batch_size,
        credits_per_minute=td.credits_per_minute,
        credits_per_day=td.credits_per_day,
        timeout=td.timeout_seconds,
        retry=RetryPolicy(max_attempts=td.max_attempts),
        statistics_credits=td.shares_credits_per_call,
    )


PRICE_PROVIDERS: dict[str, ProviderEntry[PriceProvider]] = {
    "sample": ProviderEntry(_sample_prices),
    "files": ProviderEntry(_files_prices),
    "twelvedata": ProviderEntry(_twelvedata_prices, secret_env_var="TWELVEDATA_API_KEY"),
}


# --------------------------------------------------------------------------------------------
# News


def _sample_news(config: AutoIndexConfig, secret: str | None) -> NewsProvider:
    from autoindex_pipeline.providers.news.sample import SampleNewsProvider

    news = config.news
    seed = config.providers.sample.seed if news.sample.seed is None else news.sample.seed
    return SampleNewsProvider(config.universe_frame, seed=seed, mean_per_day=news.sample.mean_per_day)


def _files_news(config: AutoIndexConfig, secret: str | None) -> NewsProvider:
    from autoindex_pipeline.providers.news.files import NewsFilesProvider

    return NewsFilesProvider(config.resolve(config.news.files.path))


def _marketaux_news(config: AutoIndexConfig, secret: str | None) -> NewsProvider:
    from autoindex_pipeline.providers.http import RetryPolicy
    from autoindex_pipeline.providers.news.marketaux import MarketauxProvider

    mx = config.news.marketaux
    return MarketauxProvider(
        secret,
        base_url=mx.base_url,
        requests_per_day=mx.requests_per_day,
        requests_per_minute=mx.requests_per_minute,
        articles_per_request=mx.articles_per_request,
        symbols_per_request=mx.symbols_per_request,
        language=mx.language,
        max_pages_per_batch=mx.max_pages_per_batch,
        timeout=mx.timeout_seconds,
        retry=RetryPolicy(max_attempts=mx.max_attempts),
    )


NEWS_PROVIDERS: dict[str, ProviderEntry[NewsProvider]] = {
    "sample": ProviderEntry(_sample_news),
    "files": ProviderEntry(_files_news),
    "marketaux": ProviderEntry(_marketaux_news, secret_env_var="MARKETAUX_API_TOKEN"),
}

SECRET_ENV_VARS: dict[str, str] = {
    name: entry.secret_env_var
    for registry in (PRICE_PROVIDERS, NEWS_PROVIDERS)
    for name, entry in registry.items()
    if entry.secret_env_var
}
"""Provider name -> the environment variable holding its secret (for every provider that has one)."""


# --------------------------------------------------------------------------------------------
# Building


def _build(
    registry: dict[str, ProviderEntry[P]], config: AutoIndexConfig, name: str, key: str, what: str, secret: str | None
) -> P:
    entry = registry.get(name)
    if entry is None:
        raise ConfigError(f"unknown {what} {name!r}; known: {', '.join(registry)}")
    if entry.secret_env_var and not secret:
        raise ConfigError(f"{key} is {name!r} but {entry.secret_env_var} is not set in the environment")
    return entry.build(config, secret if entry.secret_env_var else None)


def build_price_provider(config: AutoIndexConfig, kind: str, api_key: str | None = None) -> PriceProvider:
    """The price/shares provider ``kind`` (a name of ``PRICE_PROVIDERS``); ``api_key`` is its
    secret when it has one."""
    return _build(PRICE_PROVIDERS, config, kind, "providers.prices", "provider", api_key)


def build_news_provider(config: AutoIndexConfig, api_token: str | None = None) -> NewsProvider:
    """The news provider named by ``news.provider``; ``api_token`` is its secret when it has one."""
    return _build(NEWS_PROVIDERS, config, config.news.provider, "news.provider", "news provider", api_token)


def price_providers_in_use(config: AutoIndexConfig) -> set[str]:
    """Every price provider a run may build: prices, shares and the reconciliation source."""
    names = {config.providers.prices, config.providers.shares_provider, config.quality.reconciliation_provider}
    return {name for name in names if name is not None}


def secrets_in_use(config: AutoIndexConfig) -> dict[str, str]:
    """Provider name -> secret environment variable, for the configured providers that need one."""
    names = price_providers_in_use(config) | {config.news.provider}
    return {name: SECRET_ENV_VARS[name] for name in sorted(names) if name in SECRET_ENV_VARS}
