"""Data-quality tooling around the pure checks of :mod:`autoindex_pipeline.domain.quality`:
the Great Expectations runner (:mod:`.gx`) and the HTML / Markdown report (:mod:`.report`).

No Dagster import here either; ``great_expectations`` and ``matplotlib`` are imported lazily,
inside the functions that need them, so importing this package costs nothing.
"""
