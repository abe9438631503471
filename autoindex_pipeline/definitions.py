"""The one code location: `dagster dev`, `workspace.yaml`, the gRPC code server and the CLI all
load `defs` from here.

`defs` is built lazily (`@dg.definitions`): importing this module reads no config and builds no
asset, so a process that only needs a constant (the CLI's --help, a test helper) pays nothing,
and a config error surfaces when Dagster loads the location, with the location's name on it.
`build_definitions(config_path)` builds the same object for another autoindex.yaml.

Configuration comes from autoindex.yaml (``$AUTOINDEX_CONFIG``); secrets and the deployment's
database from the environment through ``dg.EnvVar``, so nothing secret is in code or run config.
"""

from __future__ import annotations

import os

import dagster as dg

from autoindex_pipeline.config import DATABASE_URL_ENV_VAR, AutoIndexConfig, load_config
from autoindex_pipeline.defs import pipeline as pipeline_defs
from autoindex_pipeline.defs.alerts import definitions as alerts_defs
from autoindex_pipeline.defs.alerts.resources import NotifierResource
from autoindex_pipeline.defs.maintenance import definitions as maintenance_defs
from autoindex_pipeline.defs.news import definitions as news_defs
from autoindex_pipeline.defs.ownership import definitions as ownership_defs
from autoindex_pipeline.defs.prices import definitions as prices_defs
from autoindex_pipeline.defs.quality import definitions as quality_defs
from autoindex_pipeline.defs.reports import definitions as reports_defs
from autoindex_pipeline.defs.resources import ProvidersResource, SettingsResource, WarehouseResource
from autoindex_pipeline.defs.shared import automation_sensor
from autoindex_pipeline.defs.strategy import definitions as strategy_defs
from autoindex_pipeline.providers.registry import secrets_in_use

EXECUTOR_ENV_VAR = "AUTOINDEX_EXECUTOR"


def build_resources(config: AutoIndexConfig, config_path: str | None = None) -> dict[str, object]:
    settings = SettingsResource(config_path=config_path)
    # The URL may carry a password: when it comes from the environment, hand Dagster the
    # EnvVar (resolved at run time, never shown in the UI) rather than its value.
    warehouse_url = dg.EnvVar(DATABASE_URL_ENV_VAR) if os.environ.get(DATABASE_URL_ENV_VAR) else config.database_url()
    # Only the configured providers' secrets: an EnvVar that is not set fails the run.
    secrets = {name: dg.EnvVar(var) for name, var in secrets_in_use(config).items()}
    return {
        "settings": settings,
        "notifier": NotifierResource(settings=settings),
        "warehouse": WarehouseResource(url=warehouse_url),
        "providers": ProvidersResource(settings=settings, secrets=secrets),
    }


def _executor() -> dg.ExecutorDefinition:
    # Dagster's SQLite storage locks under concurrent writers: the embedded default runs steps
    # in process. A PostgreSQL deployment may choose the multiprocess executor, or `celery`:
    # each step goes to a Celery worker (`celery -A dagster_celery.app worker -Q dagster`)
    # sharing this instance's PostgreSQL storage (README: Production deployment).
    choice = os.environ.get(EXECUTOR_ENV_VAR, "in_process")
    if choice == "multiprocess":
        return dg.multiprocess_executor
    if choice == "celery":
        from dagster_celery import celery_executor  # the `celery` extra

        # The broker URL may carry a password: pass the env var, resolved at run time.
        urls = {"broker": "AUTOINDEX_CELERY_BROKER", "backend": "AUTOINDEX_CELERY_BACKEND"}
        return celery_executor.configured({k: {"env": v} for k, v in urls.items() if os.environ.get(v)}, name="celery")
    return dg.in_process_executor


def build_definitions(config_path: str | None = None) -> dg.Definitions:
    config = load_config(config_path)
    return dg.Definitions.merge(
        prices_defs.build(config),
        news_defs.build(config),
        quality_defs.build(),
        strategy_defs.build(),
        reports_defs.build(),
        pipeline_defs.build(config),
        maintenance_defs.build(config),
        ownership_defs.build(),
        alerts_defs.build(),
        # Declared (not Dagster's implicit one) so AUTOINDEX_START_AUTOMATION=1 can start it.
        dg.Definitions(sensors=[automation_sensor()]),
        dg.Definitions(resources=build_resources(config, config_path), executor=_executor()),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
