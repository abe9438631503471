"""Build the configured provider. The only place that maps a provider name to a class, so the
CLI and the Dagster resources cannot disagree."""

from __future__ import annotations

from autoindex_pipeline.config import AutoIndexConfig, ConfigError
from autoindex_pipeline.providers.base import PriceProvider


def build_price_provider(config: AutoIndexConfig, kind: str, api_key: str | None = None) -> PriceProvider:
    """``kind`` is a provider name from the config (sample, files, twelvedata). Secrets are
    passed in by the caller (from the environment), never read from the config file."""
    if kind == "sample":
        from autoindex_pipeline.providers.sample import SampleProvider

        return SampleProvider(
            config.universe_frame, seed=config.providers.sample.seed, calendar=config.prices.calendar
        )
    if kind == "files":
        from autoindex_pipeline.providers.files import FilesProvider

        files = config.providers.files
        return FilesProvider(config.resolve(files.prices_path), shares_path=config.resolve(files.shares_path))
    if kind == "twelvedata":
        from autoindex_pipeline.providers.http import RetryPolicy
        from autoindex_pipeline.providers.twelvedata import TwelveDataProvider

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
