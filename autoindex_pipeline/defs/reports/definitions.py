"""The reports domain: daily, weekly and monthly performance reports."""

import dagster as dg

from autoindex_pipeline.defs.reports.assets import performance_reports


def build() -> dg.Definitions:
    return dg.Definitions(assets=[performance_reports])
