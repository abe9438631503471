"""The alerts domain: sensors that watch the warehouse and the instance, and notify."""

import dagster as dg

from autoindex_pipeline.defs.alerts.sensors import build_alert_sensors
from autoindex_pipeline.defs.shared import sensor_status


def build() -> dg.Definitions:
    # Declared when the definitions are built, so the switch read at that moment decides.
    return dg.Definitions(sensors=build_alert_sensors(sensor_status()))
