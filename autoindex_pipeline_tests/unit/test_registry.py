"""The provider registry is the one map from a provider name to its builder and secret, and the
Dagster resource holds secrets by provider name only as environment-variable references."""

from __future__ import annotations

from typing import get_args

import dagster as dg
import pytest

from autoindex_pipeline.config import ConfigError, NewsProviderName, ProviderName, load_config
from autoindex_pipeline.definitions import build_definitions, build_resources
from autoindex_pipeline.defs.resources import ProvidersResource
from autoindex_pipeline.providers.prices.files import FilesProvider
from autoindex_pipeline.providers.prices.sample import SampleProvider
from autoindex_pipeline.providers.prices.twelvedata import TwelveDataProvider
from autoindex_pipeline.providers.registry import (
    NEWS_PROVIDERS,
    PRICE_PROVIDERS,
    SECRET_ENV_VARS,
    build_price_provider,
    secrets_in_use,
)
from autoindex_pipeline_tests.conftest import write_config

TD_KEY = "td-registry-KEY-never-shown-7"
MX_TOKEN = "mx-registry-TOKEN-never-shown-9"


def test_config_accepts_exactly_the_registered_names():
    assert set(get_args(ProviderName)) == set(PRICE_PROVIDERS)
    assert set(get_args(NewsProviderName)) == set(NEWS_PROVIDERS)


def test_secret_variables_come_from_the_registry():
    assert SECRET_ENV_VARS == {"twelvedata": "TWELVEDATA_API_KEY", "marketaux": "MARKETAUX_API_TOKEN"}
    assert {name for name, entry in PRICE_PROVIDERS.items() if entry.secret_env_var is None} == {"sample", "files"}
    assert {name for name, entry in NEWS_PROVIDERS.items() if entry.secret_env_var is None} == {"sample", "files"}


def test_the_resource_has_no_field_per_vendor():
    assert set(ProvidersResource.model_fields) == {"settings", "secrets"}


def test_only_the_configured_providers_secrets_are_requested(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    plain = load_config(write_config(tmp_path / "a"))
    assert secrets_in_use(plain) == {}
    assert build_resources(plain)["providers"].secrets == {}
    vendors = load_config(
        write_config(tmp_path / "b", providers={"prices": "sample", "shares": "sample"},
                     quality={"reconciliation_provider": "twelvedata"}, news={"provider": "marketaux"})
    )
    assert secrets_in_use(vendors) == {"marketaux": "MARKETAUX_API_TOKEN", "twelvedata": "TWELVEDATA_API_KEY"}
    assert build_resources(vendors)["providers"].secrets == {
        "marketaux": dg.EnvVar("MARKETAUX_API_TOKEN"), "twelvedata": dg.EnvVar("TWELVEDATA_API_KEY"),
    }


def test_builders_by_name_and_a_missing_secret_names_its_variable(tmp_path):
    prices = tmp_path / "p.csv"
    prices.write_text("symbol,date,open,high,low,close,volume\n")
    config = load_config(write_config(tmp_path, providers={"files": {"prices_path": str(prices)}}))
    assert isinstance(build_price_provider(config, "sample"), SampleProvider)
    assert isinstance(build_price_provider(config, "files"), FilesProvider)
    assert isinstance(build_price_provider(config, "twelvedata", api_key="k"), TwelveDataProvider)
    with pytest.raises(ConfigError, match="TWELVEDATA_API_KEY is not set in the environment"):
        build_price_provider(config, "twelvedata")
    with pytest.raises(ConfigError, match=r"unknown provider 'yahoo'; known: sample, files, twelvedata"):
        build_price_provider(config, "yahoo")


def test_secrets_are_not_in_the_code_location_snapshot(tmp_path, monkeypatch):
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster_shared.serdes import serialize_value

    monkeypatch.setenv("TWELVEDATA_API_KEY", TD_KEY)
    monkeypatch.setenv("MARKETAUX_API_TOKEN", MX_TOKEN)
    path = write_config(tmp_path, providers={"prices": "twelvedata", "shares": "sample"}, news={"provider": "marketaux"})
    snapshot = serialize_value(RepositorySnap.from_def(build_definitions(str(path)).get_repository_def()))
    # What the UI shows as the resource's configuration: the variables' names, never their values.
    assert "TWELVEDATA_API_KEY" in snapshot and "MARKETAUX_API_TOKEN" in snapshot
    assert TD_KEY not in snapshot and MX_TOKEN not in snapshot
