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
from autoindex_pipeline.warehouse.gate import read_absences, read_first_closes
from autoindex_pipeline.warehouse.overrides import read_overrides

if TYPE_CHECKING:
    import sqlalchemy as sa


def session_gate(engine: sa.Engine, symbols: Sequence[str], raw_closes: pd.DataFrame) -> GateVerdict:
    """The verdict on the sessions of ``raw_closes`` (sessions x ``symbols``, stored closes as
    they are, NaN where no row)."""
    window = raw_closes.reindex(columns=list(symbols))
    overrides = read_overrides(engine)
    missing = unaccounted_closes(
        window,
        read_first_closes(engine, list(symbols)),
        read_absences(engine, list(symbols)),
        overrides.loc[overrides["action"] == "exclude", ["symbol", "date"]],
    )
    return gate(window.index, missing)
