"""Check before replacing: a delivered price row that fails a blocking check never reaches
`prices`.

The prices asset evaluates its checks on what the provider delivered (with the stored history
the look-back checks need) BEFORE it writes. Rows named by a failed blocking check are refused:
the stored row they would have replaced stays as it was, the refused values and their verdicts
are recorded (``warehouse/gate.py``) in the same transaction as the accepted rows, and the run
names them. Accepted rows resolve the open verdicts of their (symbol, session).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from autoindex_pipeline.domain import quality
from autoindex_pipeline.warehouse.gate import read_stored_keys, record_refusals, resolve_accepted

if TYPE_CHECKING:
    import sqlalchemy as sa

VERDICT_COLUMNS = ("symbol", "date", "check_name", "severity", "value", "reason")


@dataclass(frozen=True)
class Screened:
    accepted: pd.DataFrame
    """The delivered rows to write."""
    refused: pd.DataFrame
    """Refused rows: the delivered values, the checks they failed, why, whether a stored row
    was kept in their place (``replaced_nothing`` False)."""
    verdicts: pd.DataFrame
    """One row per (symbol, date, failed blocking check)."""

    @property
    def refused_keys(self) -> list[tuple[str, object]]:
        return [(s, pd.Timestamp(d).date()) for s, d in zip(self.refused["symbol"], self.refused["date"])]

    def summary(self, limit: int = 10) -> str:
        """The refused rows, for the run's log: symbol, date, value, rule."""
        items = [
            f"{r.symbol} {pd.Timestamp(r.date).date()} close {r.close:g} ({r.reason})"
            for r in self.refused.head(limit).itertuples(index=False)
        ]
        more = f"; ... and {len(self.refused) - limit} more" if len(self.refused) > limit else ""
        return "; ".join(items) + more

    def record(self, conn: sa.Connection, run_id: str) -> None:
        """Inside the write transaction: the refusals, their verdicts, and the verdicts the
        accepted rows resolve."""
        record_refusals(conn, self.refused, self.verdicts, run_id)
        resolve_accepted(conn, self.accepted, run_id)


def _blocking_rows(outcomes: Iterable[quality.CheckOutcome]) -> pd.DataFrame:
    parts = []
    for outcome in outcomes:
        if outcome.passed or not quality.rule(outcome.name).blocking or outcome.offending.empty:
            continue
        off = outcome.offending
        rows = off[off["severity"] == quality.ERROR] if "severity" in off.columns else off
        parts.append(pd.DataFrame({
            "symbol": rows["symbol"].astype(str).to_numpy(),
            "date": pd.to_datetime(rows["date"]).to_numpy(),
            "check_name": outcome.name,
            "severity": quality.ERROR,
            "value": pd.to_numeric(rows["value"], errors="coerce").to_numpy(dtype=float),
            "reason": rows["reason"].astype(str).to_numpy(),
        }))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "date" else object) for c in VERDICT_COLUMNS})
    return pd.concat(parts, ignore_index=True)


def screen(engine: sa.Engine, frame: pd.DataFrame, outcomes: Iterable[quality.CheckOutcome]) -> Screened:
    """Split a delivery into the rows to write and the rows a blocking check refused (every row
    of a refused (symbol, date), so duplicates go too)."""
    verdicts = _blocking_rows(outcomes)
    keys = pd.MultiIndex.from_arrays([frame["symbol"].astype(str), pd.to_datetime(frame["date"])])
    flagged = pd.MultiIndex.from_arrays([verdicts["symbol"], pd.to_datetime(verdicts["date"])])
    hit = keys.isin(flagged)
    # A verdict names a delivered row; one about a stored row outside the delivery refuses nothing.
    verdicts = verdicts[flagged.isin(keys)].drop_duplicates(["symbol", "date", "check_name"]).reset_index(drop=True)
    refused = frame.loc[hit].drop_duplicates(["symbol", "date"]).reset_index(drop=True)
    if len(refused):
        by_key = verdicts.groupby(["symbol", "date"], sort=False).agg(
            checks=("check_name", lambda s: ", ".join(sorted(set(s)))), reason=("reason", "; ".join)
        )
        refused = refused.merge(by_key, left_on=["symbol", "date"], right_index=True, how="left")
        stored = read_stored_keys(engine, list(zip(refused["symbol"], pd.to_datetime(refused["date"]).dt.date)))
        refused["replaced_nothing"] = [
            (s, d) not in stored for s, d in zip(refused["symbol"], pd.to_datetime(refused["date"]).dt.date)
        ]
        if "source" not in refused.columns:
            refused["source"] = "unknown"
    return Screened(frame.loc[~hit].reset_index(drop=True), refused, verdicts)
