"""What every command shares: config loading, errors as a message and exit code 2 (never a
traceback), and a failed run reported by its failed steps."""

from __future__ import annotations

import datetime as dt
import os
import sys

import click
import pandas as pd

from autoindex_pipeline.config import AutoIndexConfig, ConfigError, load_config

CONFIG_OPTION = click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                             help="autoindex.yaml to use.")


def fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


def load(config_path: str | None) -> AutoIndexConfig:
    try:
        return load_config(config_path)
    except ConfigError as exc:
        fail(str(exc))
        raise  # unreachable; keeps type checkers honest


def parse_date(value: str | None) -> dt.date | None:
    return None if value is None else pd.Timestamp(value).date()


def user() -> str:
    return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


def report_run(result) -> None:
    if result.success:
        return
    for event in result.all_events:
        if event.is_failure and event.event_specific_data and getattr(event.event_specific_data, "error", None):
            click.secho(f"step {event.step_key} failed: {event.event_specific_data.error.message.strip()}", fg="red", err=True)
    fail(f"run {result.run_id} failed (see its logs in the UI)")
