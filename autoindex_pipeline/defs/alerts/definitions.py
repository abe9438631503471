"""The alerts domain: sensors that watch the warehouse and the instance, and notify."""

import dagster as dg

from autoindex_pipeline.defs.alerts.sensors import ALERT_SENSORS


def build() -> dg.Definitions:
    return dg.Definitions(sensors=ALERT_SENSORS)
