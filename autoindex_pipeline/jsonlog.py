"""Structured JSON logs: one JSON object per line for every message of every run.

Enabled per deployment in ``$DAGSTER_HOME/dagster.yaml`` (no code change, every run launched by
the daemon, the UI or the CLI on that instance, including steps run by Celery workers):

.. code-block:: yaml

    python_logs:
      dagster_handler_config:
        handlers:
          json:
            class: logging.StreamHandler
            level: INFO
            stream: ext://sys.__stdout__
            formatter: json
        formatters:
          json:
            (): autoindex_pipeline.jsonlog.JsonFormatter

``sys.__stdout__`` is the process's real stdout: a Celery worker redirects ``sys.stdout`` into
its own log lines, which would wrap each JSON object in a prefix.

Each record carries ``run_id``, ``job``, ``step_key``, ``asset`` (the asset the event is about,
else the step's asset), ``partition`` (a single partition, or ``partition_range_start`` /
``partition_range_end`` for a single-run backfill) and ``event_type`` for Dagster events.
Values of the secret environment variables (``SECRET_ENV_VARS``, the database passwords) are
replaced by ``***`` in case a message ever carries one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from collections.abc import Mapping
from typing import Any

# Environment variables whose values never reach a log line.
REDACTED_ENV_VARS = (
    "TWELVEDATA_API_KEY", "MARKETAUX_API_TOKEN", "DAGSTER_PG_PASSWORD", "AUTOINDEX_SMTP_PASSWORD",
    "AUTOINDEX_SLACK_WEBHOOK_URL", "POSTGRES_PASSWORD",
)
# user:password@ in a URL.
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]+):(?P<password>[^@\s/]+)@")

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

# The ``dagster_handler_config`` block above, for code that builds an instance config.
DAGSTER_HANDLER_CONFIG: dict[str, Any] = {
    "handlers": {
        "json": {
            "class": "logging.StreamHandler",
            "level": "INFO",
            "stream": "ext://sys.__stdout__",
            "formatter": "json",
        }
    },
    "formatters": {"json": {"()": "autoindex_pipeline.jsonlog.JsonFormatter"}},
}


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` without the values of the secret environment variables or URL passwords."""
    env = os.environ if env is None else env
    for name in REDACTED_ENV_VARS:
        value = env.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return _URL_PASSWORD.sub(r"\g<scheme>:***@", text)


class JsonFormatter(logging.Formatter):
    """A ``logging.Formatter`` writing one JSON object per record.

    On records from a Dagster run (they carry ``dagster_meta``) it adds the run, step, asset and
    partition; on any other record it writes the standard fields only, so the same formatter
    serves the CLI or a plain Python logger.
    """

    def __init__(self, *args: Any, static_fields: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.static_fields = dict(static_fields or {})

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "timestamp": dt.datetime.fromtimestamp(record.created, tz=dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            **self.static_fields,
        }
        meta = getattr(record, "dagster_meta", None)
        if isinstance(meta, Mapping):
            payload.update(_dagster_fields(meta))
        else:
            payload["message"] = record.getMessage()
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        payload = {k: v for k, v in payload.items() if v is not None}
        return redact(json.dumps(payload, default=str, sort_keys=False))


def _dagster_fields(meta: Mapping[str, Any]) -> dict[str, Any]:
    tags: Mapping[str, str] = meta.get("job_tags") or {}
    event = meta.get("dagster_event")
    step_key = meta.get("step_key")
    fields: dict[str, Any] = {
        "message": meta.get("orig_message"),
        "run_id": meta.get("run_id"),
        "job": meta.get("job_name"),
        "step_key": step_key,
        "asset": step_key,
        "partition": tags.get(PARTITION_TAG),
        "partition_range_start": tags.get(RANGE_START_TAG),
        "partition_range_end": tags.get(RANGE_END_TAG),
    }
    if event is not None:
        fields["event_type"] = getattr(getattr(event, "event_type", None), "value", None)
        asset_key = _safe(lambda: event.asset_key)
        if asset_key is not None:
            fields["asset"] = asset_key.to_user_string()
        partition = _safe(lambda: event.partition)
        if partition is not None:
            fields["partition"] = partition
    return fields


def _safe(getter):  # a DagsterEvent property raises on some event types
    try:
        return getter()
    except Exception:
        return None


def configure_json_logging(level: int = logging.INFO, logger_name: str | None = None) -> logging.Handler:
    """Send a plain Python logger's records (default: the root logger) to stdout as JSON, e.g. in
    a script around the CLI. Returns the handler it added."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.setLevel(level)
    target = logging.getLogger(logger_name)
    target.addHandler(handler)
    target.setLevel(min(target.level or level, level))
    return handler
