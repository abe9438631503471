"""Restart an index update from the nearest stored rebalance, not from the base date (issue 14).

When inputs changed inside the computed history (a targeted one-symbol one-day refresh, a late
event, a backfilled partition), everything dated before the earliest change is unchanged by
construction: cleaning fills forward, each rebalance's signals read windows ending at that
rebalance (``strategy.target_weights``: momentum, volatility and history counts over the rows up
to the date, the price screen and market cap at the date, sentiment over the days before it),
shares are point in time and split factors multiply forward. So the state after the close of
the last stored rebalance ``R`` strictly before the change - the level there and that date's
targets, which the index holds exactly after it trades - is the state a full recompute passes
through, and the update continues from it like an incremental one: targets for the rebalances
after ``R``, the index and metrics from ``R`` on, the stored rows after ``R`` replaced in the
update's one transaction.

Not used for an as-of run (it recomputes in full from the data as known then), when no
rebalance after the base date precedes the change, or when the index may be held at or before
``R``: the gate can only hold the newest ``prices.hold_incomplete_sessions`` sessions, so ``R``
must come before them (with ``null``, hold every gap, the update recomputes in full as before).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.warehouse.index_restart import read_rebalance_state

if TYPE_CHECKING:
    import sqlalchemy as sa


@dataclass(frozen=True)
class Restart:
    date: pd.Timestamp
    """The rebalance the update continues from (its stored rows and those before stay)."""
    changed_from: pd.Timestamp
    """The earliest date an input recorded since the last computation is dated on."""
    state: dict
    """The state there, in the form of an ``index_state`` row."""

    @property
    def mode(self) -> str:
        return f"restart at the rebalance of {self.date.date()} (inputs changed from {self.changed_from.date()})"


def restart_point(
    engine: sa.Engine,
    config: AutoIndexConfig,
    name: str,
    version: str,
    changed_from: pd.Timestamp | None,
    last: pd.Timestamp,
) -> Restart | None:
    """Where an update whose inputs changed from ``changed_from`` on (``warehouse.index_restart.
    input_changes``: every input recorded since the stored state's watermark) can restart (see
    the module doc); None: recompute from the base date. ``last``: the newest stored session."""
    held_window = config.prices.hold_incomplete_sessions
    if changed_from is None or held_window is None:
        return None
    recent = sessions_between(last - pd.Timedelta(days=7 * (held_window + 2)), last, config.prices.calendar)
    # Before the sessions the gate may hold, and before the one just older (a restart at the
    # last complete session would have nothing to publish).
    bound = recent[-min(held_window + 1, len(recent))] if len(recent) else last
    state = read_rebalance_state(engine, name, version, min(changed_from, bound))
    if state is None:
        return None
    return Restart(date=pd.Timestamp(state["date"]), changed_from=changed_from, state=state)
