"""Markdown for the Dagster UI: small frames and the bounded evidence of a check outcome."""

from __future__ import annotations

import pandas as pd

from autoindex_pipeline.domain.quality import SAMPLE_ROWS, CheckOutcome, _records


def frame_to_markdown(frame: pd.DataFrame, total: int | None = None) -> str:
    """A small frame as a Markdown table (no extra dependency). ``total`` adds a count line."""
    if frame.empty:
        return "_none_"
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in _records(frame):
        cells = []
        for c in cols:
            v = row[c]
            cells.append("" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v).replace("|", "\\|")))
        lines.append("| " + " | ".join(cells) + " |")
    if total is not None and total > len(frame):
        lines.append(f"\n_{len(frame)} of {total} rows shown_")
    return "\n".join(lines)


def offending_markdown(outcome: CheckOutcome, n: int = SAMPLE_ROWS) -> str:
    """The bounded sample of an outcome's offending rows as a Markdown table (with the total)."""
    return frame_to_markdown(outcome.offending_sample(n), total=outcome.offending_count)
