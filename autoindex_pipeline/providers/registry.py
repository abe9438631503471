"""Build the configured provider. The only place that maps a provider name to a class, so the
CLI and the Dagster resources cannot disagree."""

from __future__ import annotations

from autoindex_pipeline.config import AutoIndexConfig, ConfigError
from autoindex_pipeline.providers.prices.base import PriceProvider
from autoindex_pipeline.providers.news.base import NewsProvider


def build_price_provider(config: AutoIndexConfig, kind: str, api_key: str | None = None) -> PriceProvider:
    """``kind`` is a provider name from the config (sample, files, twelvedata). Secrets are
    passed in by the caller (from the environment), never read from the config file."""
    if kind == "sample":
        from autoindex_pipeline.providers.prices.sample import SampleProvider

        return SampleProvider(
            config.universe_frame, seed=config.providers.sample.seed, calendar=config.prices.calendar
        )
    if kind == "files":
        from autoindex_pipeline.providers.prices.files import FilesProvider

        files = config.providers.files
        return FilesProvider(config.resolve(files.prices_path), shares_path=config.resolve(files.shares_path))
    if kind == "twelvedata":
        from autoindex_pipeline.providers.http import RetryPolicy
        from autoindex_pipeline.providers.prices.twelvedata import TwelveDataProvider

        if not api_key:
            raise ConfigError("providers.prices is 'twelvedata' but TWELVEDATA_API_KEY is not set in the environment")
        td = config.providers.twelvedata
        return TwelveDataProvider(
            api_key=api_key,
            base_url=td.base_url,
            batch_size=td.batch_size,
            credits_per_minute=td.credits_per_minute,
            credits_per_day=td.credits_per_day,
            timeout=td.timeout_seconds,
            retry=RetryPolicy(max_attempts=td.max_attempts),
            statistics_credits=td.shares_credits_per_call,
        )
    raise ConfigError(f"unknown provider {kind!r}; known: sample, files, twelvedata")


def build_news_provider(config: AutoIndexConfig, api_token: str | None = None) -> NewsProvider:
    """The news provider named by ``news.provider`` (sample, files, marketaux). The Marketaux
    token is passed in by the caller (from the environment), never read from the config file."""
    news = config.news
    if news.provider == "sample":
        from autoindex_pipeline.providers.news.sample import SampleNewsProvider

        seed = config.providers.sample.seed if news.sample.seed is None else news.sample.seed
        return SampleNewsProvider(config.universe_frame, seed=seed, mean_per_day=news.sample.mean_per_day)
    if news.provider == "files":
        from autoindex_pipeline.providers.news.files import NewsFilesProvider

        return NewsFilesProvider(config.resolve(news.files.path))
    if news.provider == "marketaux":
        from autoindex_pipeline.providers.http import RetryPolicy
        from autoindex_pipeline.providers.news.marketaux import MarketauxProvider

        if not api_token:
            raise ConfigError("news.provider is 'marketaux' but MARKETAUX_API_TOKEN is not set in the environment")
        mx = news.marketaux
        return MarketauxProvider(
            api_token,
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
    raise ConfigError(f"unknown news provider {news.provider!r}; known: sample, files, marketaux")
