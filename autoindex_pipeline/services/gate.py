"""The one gate between stored prices and the index: which sessions are complete.

Every way of running the index (automation, `index_job` in the UI, `autoindex run`, refreshes,
backfills) computes through ``services.index``, which asks this module how far it may go. Refused
deliveries never reach `prices` (the prices asset screens them first), so what remains to judge
is whether every constituent has a close on each session, or a known reason not to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from autoindex_pipeline.domain.gate import GateVerdict, gate, unaccounted_closes
from autoindex_pipeline.warehouse.gate import read_absences, read_first_closes, read_open_verdicts
from autoindex_pipeline.warehouse.overrides import read_overrides

if TYPE_CHECKING:
    import sqlalchemy as sa


def session_gate(
    engine: sa.Engine,
    symbols: Sequence[str],
    raw_closes: pd.DataFrame,
    judged_from: pd.Timestamp,
    hold_sessions: int | None,
) -> GateVerdict:
    """The verdict on the sessions of ``raw_closes`` from ``judged_from`` on (sessions x
    ``symbols``, stored closes as they are, NaN where no row; earlier rows are the recent past
    the activity rule reads). ``hold_sessions``: ``prices.hold_incomplete_sessions``."""
    window = raw_closes.reindex(columns=list(symbols))
    judged = window.index[window.index >= pd.Timestamp(judged_from)]
    if hold_sessions == 0 or judged.empty:
        return gate(judged, pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "symbol": pd.Series(dtype=object)}))
    overrides = read_overrides(engine)
    missing = unaccounted_closes(
        window,
        read_first_closes(engine, list(symbols)),
        read_absences(engine, list(symbols)),
        overrides.loc[overrides["action"] == "exclude", ["symbol", "date"]],
        recent_sessions=hold_sessions,
    )
    missing = missing[missing["date"] >= judged[0]]
    frontier = None if hold_sessions is None else window.index[-min(hold_sessions, len(window.index))]
    flagged = read_open_verdicts(engine, judged[0].date(), judged[-1].date()).loc[:, ["symbol", "date"]]
    return gate(judged, missing, frontier=frontier, flagged=flagged)
