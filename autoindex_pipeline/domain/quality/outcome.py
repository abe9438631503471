"""What one check found (:class:`CheckOutcome`) and the helpers every check builds it with.

An outcome holds whether the check passed, its severity (from :mod:`.rules`), the observed
figure against the threshold, the FULL set of offending rows (``symbol, date, value, reason,
severity``) and each symbol's pass rate, so one outcome feeds a Dagster asset check, the quality
score, the grid picture and the reports alike.

Invariant: ``outcome.passed`` is True exactly when ``offending`` is empty (except a check that
could evaluate nothing at all, which fails with an explanatory row).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from autoindex_pipeline.domain.quality.rules import ERROR, SEVERITIES, WARN

__all__ = ["ERROR", "WARN", "SEVERITIES", "OFFENDING_COLUMNS", "SAMPLE_ROWS", "CheckOutcome"]

OFFENDING_COLUMNS: tuple[str, ...] = ("symbol", "date", "value", "reason", "severity")
SAMPLE_ROWS = 20
"""Default size of the bounded sample of offending rows shown in metadata and reports."""

@dataclass(frozen=True)
class CheckOutcome:
    """What one check found. ``offending`` holds every offending row (not a sample)."""

    name: str
    passed: bool
    severity: str
    observed: float
    threshold: float | None
    description: str
    offending: pd.DataFrame
    per_symbol_pass_rate: pd.Series
    """symbol -> share of that symbol's evaluated units that passed (1.0 when all did)."""
    evaluated: int = 0
    """How many units (rows, sessions, symbols...) the check looked at."""
    scope: str = "row"
    """``row`` (offending rows are (symbol, session) cells of the price table), ``symbol``
    (one unit per symbol), or ``table`` (allocations, index, news, portfolio)."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Extra figures and frames (e.g. completeness per symbol and per session)."""

    @property
    def offending_count(self) -> int:
        return int(len(self.offending))

    @property
    def blocking(self) -> bool:
        """True when a blocking asset check built on this outcome stops downstream assets."""
        return (not self.passed) and self.severity == ERROR

    def sample(self, n: int = SAMPLE_ROWS) -> tuple[pd.DataFrame, int]:
        """A bounded sample of the offending rows (errors first, then by symbol and date)
        and the total count."""
        return self.offending_sample(n), self.offending_count

    def offending_sample(self, n: int = SAMPLE_ROWS) -> pd.DataFrame:
        off = self.offending
        if off.empty:
            return off
        order = pd.DataFrame(
            {"_sev": (off["severity"] != ERROR).to_numpy(), "_sym": off["symbol"].astype(str).to_numpy(), "_date": off["date"].to_numpy()},
            index=off.index,
        )
        idx = order.sort_values(["_sev", "_sym", "_date"], kind="stable").index[:n]
        return off.loc[idx].reset_index(drop=True)

    def first_offending(self) -> tuple[str, tuple[str, ...]] | None:
        """The earliest offending session and the symbols offending on it (ISO date, sorted
        names), or None when no offending row is dated. This names the incident an alert is
        about: the same bad rows seen by a later run are the same incident."""
        off = self.offending
        if off.empty or "date" not in off.columns:
            return None
        dates = pd.to_datetime(off["date"], errors="coerce")
        if dates.isna().all():
            return None
        first = dates.min()
        symbols = sorted({str(s) for s in off.loc[dates == first, "symbol"] if isinstance(s, str) and s})
        return first.date().isoformat(), tuple(symbols)

    def summary(self) -> str:
        """One line a person can read."""
        state = "passed" if self.passed else f"FAILED ({self.severity})"
        thr = "" if self.threshold is None else f" vs threshold {_fmt(self.threshold)}"
        return f"{self.name}: {state}, observed {_fmt(self.observed)}{thr}, {self.offending_count} offending of {self.evaluated} evaluated"

    def to_metadata(self, n: int = SAMPLE_ROWS) -> dict[str, Any]:
        """Plain JSON-able figures for an asset check's metadata: the evidence, bounded."""
        sample = self.offending_sample(n)
        return {
            "check": self.name,
            "passed": bool(self.passed),
            "severity": self.severity,
            "observed": _json_float(self.observed),
            "threshold": _json_float(self.threshold),
            "description": self.description,
            "evaluated": int(self.evaluated),
            "offending_count": self.offending_count,
            "offending_sample": _records(sample),
            "symbols_failing": int((self.per_symbol_pass_rate < 1.0).sum()) if len(self.per_symbol_pass_rate) else 0,
        }



def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, (int, np.integer)) or float(value).is_integer():
        return f"{int(value)}"
    return f"{value:.6g}"


def _json_float(value: Any) -> float | None:
    """A float for metadata (always a float, so a metadata series keeps one type); None for
    missing or infinite."""
    if value is None:
        return None
    v = float(value)
    return None if math.isnan(v) or math.isinf(v) else v


def _json_value(value: Any) -> Any:
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        ts = pd.Timestamp(value)
        if ts is pd.NaT:
            return None
        return ts.date().isoformat() if ts.tz is None and ts == ts.normalize() else ts.isoformat()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return None if math.isnan(v) or math.isinf(v) else v
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _json_value(v) for k, v in row.items()} for row in frame.to_dict("records")]



def _offending(symbol: Any, date: Any, value: Any, reason: Any, severity: Any, extra: Mapping[str, Any] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({"symbol": symbol, "date": date, "value": value, "reason": reason, "severity": severity})
    if extra:
        for k, v in extra.items():
            frame[k] = v
    frame["symbol"] = frame["symbol"].astype(object)
    return frame.reset_index(drop=True)


def _empty_offending(date_dtype: str = "datetime64[ns]") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": pd.Series([], dtype=object),
            "date": pd.Series([], dtype=date_dtype),
            "value": pd.Series([], dtype=float),
            "reason": pd.Series([], dtype=object),
            "severity": pd.Series([], dtype=object),
        }
    )


def _pass_rates(codes: np.ndarray, uniques: Sequence[Any], failed: np.ndarray, evaluated: np.ndarray | None = None) -> pd.Series:
    """symbol -> share of evaluated units that did not fail (symbols with no evaluated unit are
    left out)."""
    n = len(uniques)
    ev = np.ones(len(codes), dtype=bool) if evaluated is None else np.asarray(evaluated, dtype=bool)
    total = np.bincount(codes[ev], minlength=n).astype(float)
    bad = np.bincount(codes[ev], weights=np.asarray(failed, dtype=float)[ev], minlength=n)
    keep = total > 0
    rates = pd.Series(1.0 - bad[keep] / total[keep], index=pd.Index(np.asarray(uniques, dtype=object)[keep], name="symbol"), name="pass_rate")
    return rates


def _outcome(
    name: str,
    offending: pd.DataFrame,
    *,
    severity: str,
    observed: float,
    threshold: float | None,
    description: str,
    per_symbol: pd.Series | None = None,
    evaluated: int = 0,
    scope: str = "row",
    details: Mapping[str, Any] | None = None,
    passed: bool | None = None,
) -> CheckOutcome:
    if len(offending) and "severity" in offending.columns and (offending["severity"] == ERROR).any():
        severity = ERROR
    elif len(offending) and "severity" in offending.columns:
        severity = WARN if (offending["severity"] == WARN).all() else severity
    rates = per_symbol if per_symbol is not None else pd.Series(dtype=float, name="pass_rate", index=pd.Index([], name="symbol", dtype=object))
    return CheckOutcome(
        name=name,
        passed=bool(len(offending) == 0) if passed is None else bool(passed),
        severity=severity,
        observed=float(observed) if observed is not None else float("nan"),
        threshold=threshold,
        description=description,
        offending=offending.reset_index(drop=True),
        per_symbol_pass_rate=rates,
        evaluated=int(evaluated),
        scope=scope,
        details=dict(details or {}),
    )




def apply_overrides(outcome: CheckOutcome, overrides: pd.DataFrame) -> CheckOutcome:
    """Take overridden (symbol, date) rows out of a row-scoped outcome.

    An overridden row is no observed failure: it leaves ``offending``, the check passes when
    nothing is left, and ``observed`` is recomputed from what is left (for checks that count
    rows, and for the return cap's largest move); the number of overridden rows is kept apart
    in ``details["overridden_rows"]``. Checks whose observed figure is a ratio or an age keep it.
    """
    from autoindex_pipeline.domain.quality.rules import RULE_BY_NAME

    if outcome.offending.empty or overrides.empty or outcome.scope != "row":
        return outcome
    keys = pd.MultiIndex.from_frame(overrides.loc[:, ["symbol", "date"]].assign(date=lambda f: pd.to_datetime(f["date"])))
    off = outcome.offending
    hit = pd.MultiIndex.from_arrays([off["symbol"].astype(str), pd.to_datetime(off["date"])]).isin(keys)
    if not hit.any():
        return outcome
    left = off.loc[~hit].reset_index(drop=True)
    known = RULE_BY_NAME.get(outcome.name)
    kind = known.observed if known is not None else "figure"
    observed = outcome.observed
    if kind == "count":
        observed = float(len(left))
    elif kind == "max_abs":
        rest = float(outcome.details.get("max_abs_not_offending", 0.0))
        observed = max([rest, *np.abs(left["value"].to_numpy(dtype=float)).tolist()])
    return replace(
        outcome,
        offending=left,
        passed=left.empty,
        observed=observed,
        details={**outcome.details, "overridden_rows": int(hit.sum())},
    )
