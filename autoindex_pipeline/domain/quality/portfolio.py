"""Checks on the computed allocations (long frame: date, symbol, weight[, strategy]) and index
values. Severities come from :mod:`.rules`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from autoindex_pipeline.domain.quality.frames import _sessions, _to_naive_dates
from autoindex_pipeline.domain.quality.outcome import CheckOutcome, _empty_offending, _offending, _outcome, _pass_rates
from autoindex_pipeline.domain.quality.rules import severity_of


def _alloc(allocations: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    missing = [c for c in ("date", "symbol", "weight") if c not in allocations.columns]
    if missing:
        raise ValueError(f"allocations frame is missing column(s): {', '.join(missing)}")
    cols = ["date", "symbol", "weight"] + (["strategy"] if "strategy" in allocations.columns else [])
    frame = allocations.loc[:, cols].copy()
    frame["date"] = _to_naive_dates(frame["date"]).to_numpy()
    frame["symbol"] = frame["symbol"].astype(str).to_numpy(dtype=object)
    frame["weight"] = pd.to_numeric(frame["weight"], errors="coerce").astype(float)
    keys = ["strategy", "date"] if "strategy" in frame.columns else ["date"]
    return frame, keys


def _alloc_offending(rows: pd.DataFrame, value: Any, reason: Any, name: str, symbol: Any = None) -> pd.DataFrame:
    extra = {"strategy": rows["strategy"].to_numpy()} if "strategy" in rows.columns else None
    return _offending(rows["symbol"].to_numpy() if symbol is None else symbol, rows["date"].to_numpy(), value, reason, severity_of(name), extra)


def check_weights_sum(allocations: pd.DataFrame, tol: float = 1e-9) -> CheckOutcome:
    """Weights of each (strategy, date) sum to 1 within ``tol``. Offending: one row per bad
    (strategy, date), symbol ``*``, value the sum. ERROR."""
    frame, keys = _alloc(allocations)
    sums = frame.groupby(keys, sort=True)["weight"].sum(min_count=1).reset_index()
    dev = np.abs(sums["weight"].to_numpy() - 1.0)
    bad = ~(dev <= tol)
    rows = sums[bad].assign(symbol="*")
    reason = [f"weights sum to {w:.12g}" for w in rows["weight"]]
    off = _alloc_offending(rows, rows["weight"].to_numpy(), reason, "weights_sum")
    return _outcome(
        "weights_sum", off, severity=severity_of("weights_sum"), observed=float(np.nanmax(dev)) if len(dev) else 0.0, threshold=tol,
        description=f"|sum of weights - 1| <= {tol:g} per {' and '.join(keys)}", evaluated=len(sums), scope="table",
    )


def check_no_negative_weights(allocations: pd.DataFrame) -> CheckOutcome:
    """No weight below 0 (nor missing). ERROR."""
    frame, _ = _alloc(allocations)
    w = frame["weight"].to_numpy()
    bad = ~(w >= 0)
    rows = frame[bad]
    reason = np.where(np.isnan(w[bad]), "weight missing", "negative weight")
    codes, uniques = pd.factorize(frame["symbol"])
    return _outcome(
        "no_negative_weights", _alloc_offending(rows, w[bad], reason, "no_negative_weights"), severity=severity_of("no_negative_weights"),
        observed=float(np.nanmin(w)) if len(w) and not np.isnan(w).all() else 0.0, threshold=0.0,
        description="every weight >= 0", per_symbol=_pass_rates(codes, uniques, bad), evaluated=len(frame), scope="table",
    )


def check_weight_cap(allocations: pd.DataFrame, cap: float | None, tol: float = 1e-9) -> CheckOutcome:
    """No weight above ``max_asset_weight`` (+ ``tol``); passes trivially without a cap. ERROR."""
    frame, _ = _alloc(allocations)
    w = frame["weight"].to_numpy()
    if cap is None:
        return _outcome("weight_cap", _empty_offending(), severity=severity_of("weight_cap"), observed=float(np.nanmax(w)) if len(w) else 0.0,
                        threshold=None, description="no max_asset_weight configured", evaluated=0, scope="table")
    with np.errstate(invalid="ignore"):
        bad = w > cap + tol
    rows = frame[bad]
    reason = [f"weight {x:.6g} above the cap {cap:g}" for x in w[bad]]
    codes, uniques = pd.factorize(frame["symbol"])
    return _outcome(
        "weight_cap", _alloc_offending(rows, w[bad], reason, "weight_cap"), severity=severity_of("weight_cap"),
        observed=float(np.nanmax(w)) if len(w) else 0.0, threshold=cap, description=f"every weight <= {cap:g}",
        per_symbol=_pass_rates(codes, uniques, bad), evaluated=len(frame), scope="table",
    )


def check_benchmark_excluded(allocations: pd.DataFrame, benchmark: str) -> CheckOutcome:
    """The benchmark never carries a (non-zero) weight. ERROR."""
    frame, _ = _alloc(allocations)
    bench = str(benchmark).strip().upper()
    w = frame["weight"].to_numpy()
    bad = (frame["symbol"].str.upper() == bench).to_numpy() & ~(w == 0)
    rows = frame[bad]
    off = _alloc_offending(rows, w[bad], [f"benchmark {bench} is a constituent"] * int(bad.sum()), "benchmark_excluded")
    return _outcome(
        "benchmark_excluded", off, severity=severity_of("benchmark_excluded"), observed=float(bad.sum()), threshold=0,
        description=f"benchmark {bench} never a constituent", evaluated=len(frame), scope="table",
    )


# --------------------------------------------------------------------------------------------
# Index checks


def _index_frame(values: pd.DataFrame | pd.Series, column: str) -> tuple[pd.DataFrame, list[str]]:
    if isinstance(values, pd.Series):
        frame = values.rename(column).rename_axis("date").reset_index()
    else:
        frame = values.copy()
    keys = ["strategy", "date"] if "strategy" in frame.columns else ["date"]
    frame["date"] = _to_naive_dates(frame["date"]).to_numpy()
    return frame, keys


def _index_symbol(frame: pd.DataFrame) -> Any:
    return frame["strategy"].astype(str).to_numpy(dtype=object) if "strategy" in frame.columns else "index"


def check_index_recomputation(
    stored_levels: pd.DataFrame | pd.Series,
    recomputed_levels: pd.DataFrame | pd.Series,
    tol: float = 1e-9,
    column: str = "level",
) -> CheckOutcome:
    """Stored index levels equal a fresh recomputation within ``tol`` (relative:
    ``|stored - recomputed| <= tol * |recomputed|``, the bt cross-check's convention). A date
    on one side only is offending too. Frames: date, ``column`` [, strategy]; or Series by date.
    ERROR."""
    stored, keys = _index_frame(stored_levels, column)
    fresh, _ = _index_frame(recomputed_levels, column)
    merged = stored.loc[:, [*keys, column]].merge(fresh.loc[:, [*keys, column]], on=keys, how="outer", suffixes=("_stored", "_recomputed"))
    a, b = merged[f"{column}_stored"].to_numpy(dtype=float), merged[f"{column}_recomputed"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(a - b) / np.maximum(np.abs(b), np.finfo(float).tiny)
    only_stored, only_fresh = np.isnan(b) & ~np.isnan(a), np.isnan(a) & ~np.isnan(b)
    bad = only_stored | only_fresh | ~(rel <= tol)
    bad &= ~(np.isnan(a) & np.isnan(b))
    reason = np.select(
        [only_stored[bad], only_fresh[bad]],
        ["not in the recomputation", "missing from the stored values"],
        default=pd.Series(rel[bad]).map(lambda x: f"relative difference {x:.3g}").to_numpy(dtype=object),
    )
    rows = merged[bad]
    off = _offending(_index_symbol(rows), rows["date"].to_numpy(), rel[bad], reason, severity_of("index_recomputation"), {"stored": a[bad], "recomputed": b[bad]})
    finite = rel[np.isfinite(rel)]
    return _outcome(
        "index_recomputation", off, severity=severity_of("index_recomputation"), observed=float(finite.max()) if len(finite) else 0.0, threshold=tol,
        description=f"stored {column} == recomputed within {tol:g} (relative)", evaluated=len(merged), scope="table",
    )


def check_index_session_gaps(index_dates: pd.DataFrame | pd.Series | pd.DatetimeIndex, sessions: pd.DatetimeIndex) -> CheckOutcome:
    """Every session between the index's first and last date has exactly one row, and every
    row is a session. ``index_dates``: dates, or a frame with ``date`` [, strategy]. ERROR."""
    if isinstance(index_dates, pd.DataFrame):
        frame = index_dates.loc[:, [c for c in ("strategy", "date") if c in index_dates.columns]].copy()
    else:
        frame = pd.DataFrame({"date": pd.Series(pd.DatetimeIndex(pd.to_datetime(index_dates)))})
    frame["date"] = _to_naive_dates(frame["date"]).to_numpy()
    sessions = _sessions(sessions)
    severity = severity_of("index_session_gaps")
    group = frame["strategy"].astype(str) if "strategy" in frame.columns else pd.Series("index", index=frame.index)
    frame = frame.assign(_g=group.to_numpy())
    bounds = frame.groupby("_g")["date"].agg(["min", "max"])
    lo = sessions.searchsorted(bounds["min"].to_numpy(), side="left")
    hi = sessions.searchsorted(bounds["max"].to_numpy(), side="right")
    counts = hi - lo
    expected = pd.DataFrame(
        {
            "_g": np.repeat(bounds.index.to_numpy(dtype=object), counts),
            "date": sessions.to_numpy()[np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)]) if len(counts) else np.array([], dtype=np.int64)],
        }
    )
    have = frame.drop_duplicates(["_g", "date"])
    missing = expected.merge(have[["_g", "date"]], on=["_g", "date"], how="left", indicator=True)
    missing = missing[missing["_merge"] == "left_only"]
    not_session = frame[~frame["date"].isin(sessions)]
    twice = frame[frame.duplicated(["_g", "date"], keep="first")]
    parts = [
        _offending(missing["_g"].to_numpy(), missing["date"].to_numpy(), np.nan, "session missing", severity),
        _offending(not_session["_g"].to_numpy(), not_session["date"].to_numpy(), np.nan, "not a session", severity),
        _offending(twice["_g"].to_numpy(), twice["date"].to_numpy(), np.nan, "date twice", severity),
    ]
    off = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else _empty_offending()
    return _outcome(
        "index_session_gaps", off, severity=severity, observed=float(len(missing)), threshold=0,
        description="one index row per session from the first to the last date", evaluated=len(expected), scope="table",
    )


def check_daily_moves(
    index_daily: pd.DataFrame,
    threshold: float = -0.01,
    *,
    critical_multiple: float = 2.0,
    rise_threshold: float | None = None,
) -> CheckOutcome:
    """Index daily returns at or below ``threshold`` (``daily_drop_threshold``, default -1%);
    at or below ``critical_multiple`` x threshold the reason says critical. Optionally also
    rises at or above ``rise_threshold``. WARN: a move is news, not bad data (alerts act on it).
    ``index_daily``: date, daily_return [, strategy]."""
    frame, _ = _index_frame(index_daily, "daily_return")
    r = pd.to_numeric(frame["daily_return"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        drop = r <= threshold
        critical = r <= critical_multiple * threshold
        rise = (r >= rise_threshold) if rise_threshold is not None else np.zeros(len(r), dtype=bool)
    bad = drop | rise
    reason = np.select(
        [critical[bad], drop[bad]],
        [f"critical drop (<= {critical_multiple * threshold:.2%})", f"drop (<= {threshold:.2%})"],
        default=f"rise (>= {rise_threshold if rise_threshold is not None else 0:.2%})",
    )
    rows = frame[bad]
    off = _offending(_index_symbol(rows), rows["date"].to_numpy(), r[bad], reason, severity_of("daily_moves"))
    return _outcome(
        "daily_moves", off, severity=severity_of("daily_moves"), observed=float(np.nanmin(r)) if len(r) and not np.isnan(r).all() else 0.0,
        threshold=threshold, description=f"index daily return > {threshold:.2%}", evaluated=int(np.isfinite(r).sum()), scope="table",
        details={"critical": int(critical.sum())},
    )


