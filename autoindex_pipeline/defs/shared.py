"""What every domain under defs/ shares: the trading-day partitions and the automation condition
of everything downstream of prices.

Partitions. Weekday cron ticks minus the exchange's holidays (from exchange-calendars), so a
holiday is never a partition, never "missing" and never a failed check. All daily assets must
use this same object: a single-run backfill over assets with different partition definitions is
split into chunks by Dagster. ``end_offset=1`` makes today's session a partition as soon as the
day starts, so the 18:00 schedule can materialize it after the close instead of waiting until
midnight.

Automation. Not a fixed 19:00 job (the old Celery beat): the prices run ends whenever the
provider lets it (rate limits, retries, a late print re-fetched by the smart refresh), and a
backfill of an old partition must also propagate. The index and its reports run when their
inputs have updated, after the upstream blocking checks passed, and never while an upstream is
still running.
"""

from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd

from autoindex_pipeline.domain.calendar import EXCHANGE_TIMEZONE, get_calendar, non_session_weekdays
from autoindex_pipeline.warehouse import schema as warehouse_schema

PARTITION_DATE_FORMAT = "%Y-%m-%d"


@lru_cache(maxsize=8)
def trading_day_partitions(start_date: dt.date, calendar: str = "XNYS") -> dg.TimeWindowPartitionsDefinition:
    tz = ZoneInfo(EXCHANGE_TIMEZONE)
    holidays = non_session_weekdays(start_date, get_calendar(calendar).last_session, calendar)
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule="0 0 * * 1-5",
        timezone=EXCHANGE_TIMEZONE,
        fmt=PARTITION_DATE_FORMAT,
        start=dt.datetime.combine(start_date, dt.time(), tzinfo=tz),
        end_offset=1,
        exclusions=[dt.datetime.combine(day.date(), dt.time(), tzinfo=tz) for day in holidays],
    )


def partition_date_range(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """First and last session (inclusive) of the partitions this run materializes."""
    key_range = context.partition_key_range
    return pd.Timestamp(key_range.start).date(), pd.Timestamp(key_range.end).date()


AC = dg.AutomationCondition

# News refreshes every 15 minutes: it is read by the next index update (and a backfill of old
# news days triggers a recompute inside the index builder), but does not by itself start one.
NEWS = dg.AssetSelection.keys("news_articles", "news_sentiment", "sentiment_daily")

INPUTS_UPDATED_AND_CHECKED = (
    (AC.newly_missing() | AC.any_deps_updated().ignore(NEWS)).since_last_handled()
    & ~AC.any_deps_in_progress()
    & ~AC.in_progress()
    & AC.all_deps_blocking_checks_passed()
).with_label("inputs updated and their blocking checks passed")


# --------------------------------------------------------------------------------------------
# Column schemas (the asset page's "Columns"), read from the warehouse schema itself so they
# cannot drift from the tables.

_TYPES = (("Boolean", "bool"), ("DateTime", "timestamp"), ("Date", "date"), ("Integer", "int"), ("Float", "float"),
          ("String", "string"), ("Text", "string"))


def _column_type(column) -> str:
    name = type(column.type).__name__
    return next((label for kind, label in _TYPES if kind in name), name.lower())


def column_schema(*tables: str, descriptions: dict[str, str] | None = None) -> dg.TableSchema:
    """The columns of warehouse table(s) ``tables`` (an asset written to several tables lists the
    first one's columns, then the others' under ``table.column``), with primary keys and NOT
    NULL written into the descriptions."""
    descriptions = descriptions or {}
    columns = []
    for i, name in enumerate(tables):
        for col in warehouse_schema.metadata.tables[name].columns:
            label = col.name if i == 0 else f"{name}.{col.name}"
            notes = [descriptions.get(label, "")] + (["primary key"] if col.primary_key else [])
            columns.append(dg.TableColumn(
                label, _column_type(col), description="; ".join(n for n in notes if n) or None,
                constraints=dg.TableColumnConstraints(nullable=bool(col.nullable) and not col.primary_key),
            ))
    return dg.TableSchema(columns=columns)


# --------------------------------------------------------------------------------------------
# What the UI shows about every asset: who owns it, how it is tagged, which version of its
# logic produced a materialization, and the freshness the daily pipeline promises.

OWNERS = ["team:autoindex"]
"""Dagster owners (team:NAME or an e-mail): the team the index and its data belong to."""


def asset_tags(domain: str, *, tier: str = "core") -> dict[str, str]:
    """Catalog tags: the domain (filter by it in the Catalog) and the tier (``core`` assets feed
    the published index; ``support`` ones do not)."""
    return {"domain": domain, "tier": tier}


CODE_VERSION = "2026.12"
"""The version of the assets' logic, shown in the UI beside each materialization. Bump it
when a change alters what an asset computes from the same inputs (a new rule, a fixed formula):
Dagster then marks the materializations made under the old version as stale."""

# A session is due by 18:00 New York on weekdays; four days cover a weekend with a Monday or
# Friday holiday, a day warns. (A cron policy would fail on every exchange holiday.)
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(days=4), warn_window=dt.timedelta(hours=26))

# --------------------------------------------------------------------------------------------
# The switch that starts what a deployment runs by itself

START_AUTOMATION_ENV_VAR = "AUTOINDEX_START_AUTOMATION"


def automation_started() -> bool:
    """True when ``AUTOINDEX_START_AUTOMATION=1`` (or true/yes/on): the schedules a deployment
    needs and Dagster's automation sensor then start RUNNING when the code location loads.
    Unset, they ship stopped, so a laptop's `dagster dev` fetches nothing by itself."""
    return os.environ.get(START_AUTOMATION_ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


def schedule_status() -> dg.DefaultScheduleStatus:
    return dg.DefaultScheduleStatus.RUNNING if automation_started() else dg.DefaultScheduleStatus.STOPPED


def sensor_status() -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if automation_started() else dg.DefaultSensorStatus.STOPPED


AUTOMATION_SENSOR = "default_automation_condition_sensor"


def automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """Dagster's automation sensor under its default name, declared so the switch can start
    it (Dagster's implicit one always ships stopped). It evaluates every asset's condition:
    the index, the quality report and the performance reports after prices."""
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR,
        target=dg.AssetSelection.all(),
        default_status=sensor_status(),
        description="Evaluates the automation conditions: what is downstream of prices runs once its inputs "
        f"updated and their blocking checks passed. Started by {START_AUTOMATION_ENV_VAR}=1.",
    )
