"""The quality domain: the quality report with the portfolio-score gate. (Price checks live on
the prices asset, allocation and index checks on the index step: they evaluate what that run
just wrote.)"""

import dagster as dg

from autoindex_pipeline.defs.quality.assets import quality_report


def build() -> dg.Definitions:
    return dg.Definitions(assets=[quality_report])
