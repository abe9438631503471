"""A price delivery brought to the warehouse's raw scale, and what it restates.

The warehouse stores raw closes (the scale of the shares outstanding on each session) and
applies the recorded corporate actions when computing (methodology section 2a). A provider whose
daily series are split-adjusted (the provider's ``split_adjusted = True``: TwelveData) restates every bar before
a split once the split has happened, so rows stored before it are at the old scale and rows
fetched after it at the new one. :func:`prepare_delivery` multiplies such a delivery back to the
raw scale with the splits recorded when it was fetched (the ``corporate_actions`` asset runs
first), so the same history fetched in one piece after a split or day by day across it is stored
identically and gives the same index. It also compares the delivery with the stored rows of the
same sessions: a provider that restated its history (a split-adjusted series from a provider not
declared as such, a corrected print) is reported, symbol by symbol, with the ratio of the
restatement (``detect_restatements``); the rows are then written as delivered (the price checks
decide on them, as on any delivery).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from autoindex_pipeline.domain import corporate_actions as ca
from autoindex_pipeline.warehouse.corporate_actions import read_corporate_actions
from autoindex_pipeline.warehouse.read import read_closes

if TYPE_CHECKING:
    import sqlalchemy as sa


@dataclass(frozen=True)
class PreparedDelivery:
    frame: pd.DataFrame
    """The delivery at the raw scale."""
    unadjusted: bool
    """True when split-adjusted bars were multiplied back to the raw scale."""
    restated: pd.DataFrame
    """The delivery as the provider sent it against the stored rows of the same sessions
    (``domain.corporate_actions.detect_restatements``): what the provider restated."""
    changes: pd.DataFrame
    """The same for the delivery at the raw scale: what writing it changes in the warehouse."""

    def notes(self) -> list[str]:
        changed = set(self.changes["symbol"])
        out = []
        for r in self.restated.itertuples(index=False):
            kind = (f"a split-adjusted history (x{r.median_ratio:.4g}, as after a {1 / r.median_ratio:g}:1 split)"
                    if pd.notna(r.split_like) else f"revised closes (median x{r.median_ratio:.4g})")
            outcome = ("written as delivered (the price checks judge it)" if r.symbol in changed
                       else "converted back to the raw scale with the recorded splits: the stored rows stand")
            out.append(f"{r.symbol}: the provider restated {r.differing} of {r.compared} stored session(s) "
                       f"{r.first_date.date()}..{r.last_date.date()} as {kind}; {outcome}")
        return out


def prepare_delivery(
    engine: sa.Engine, frame: pd.DataFrame, split_adjusted: bool = False, fetched_on: dt.date | pd.Timestamp | None = None
) -> PreparedDelivery:
    """``frame`` (a provider's price frame, fetched on ``fetched_on``: default today, from a
    provider whose series are ``split_adjusted`` or not) at the raw scale, and what it restates."""
    fetched_on = pd.Timestamp(fetched_on if fetched_on is not None else dt.date.today())
    if frame.empty:
        nothing = ca.detect_restatements(frame, frame)
        return PreparedDelivery(frame, False, nothing, nothing)
    symbols = sorted(frame["symbol"].astype(str).unique())
    events = read_corporate_actions(engine, symbols=symbols)
    raw = ca.to_raw_scale(frame, events, fetched_on) if split_adjusted else frame
    dates = pd.to_datetime(frame["date"])
    # The closes only (the fast read): the comparison needs nothing else.
    stored = read_closes(engine, symbols=symbols, start=dates.min().date(), end=dates.max().date())
    return PreparedDelivery(raw, raw is not frame, ca.detect_restatements(frame, stored), ca.detect_restatements(raw, stored))
