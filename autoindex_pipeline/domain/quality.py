"""Data-quality checks (methodology section 10). Pure and vectorised; no Dagster, no I/O.

Every check is a function of frames (plus thresholds) returning a :class:`CheckOutcome`: whether
it passed, its severity, the observed figure against the threshold, the FULL set of offending
rows (``symbol, date, value, reason, severity``) and each symbol's pass rate, so one outcome
feeds a Dagster asset check, the quality score, the grid picture and the reports alike.

Severities
----------
``ERROR`` (the data is wrong, downstream must not use it; a blocking asset check) and ``WARN``
(worth a look, not wrong by itself). Some checks mix them per row: the outlier check is ERROR for
a return beyond the cap and WARN for a robust-z flag only, so clean fat-tailed data (about one
z > 5 day per symbol and year) never raises an ERROR. ``outcome.severity`` is the worst severity
among its offending rows (the declared one when nothing offends).

=============================  ========  ======================================================
check                          severity  unit of the pass rate
=============================  ========  ======================================================
completeness                   ERROR     expected session of the symbol's active range
ohlc_validity                  ERROR     row with four finite prices
positive_prices_and_volume     ERROR     row
duplicates                     ERROR     row
outliers                       ERROR /   row with a return (cap: ERROR, robust z only: WARN)
                               WARN
probable_splits                WARN      row with a previous close
staleness                      ERROR     symbol (one unit)
reconciliation                 ERROR     sampled close
weights_sum / no_negative /    ERROR     (strategy, date) / allocation row
weight_cap / benchmark
index_recomputation            ERROR     index row
index_session_gaps             ERROR     expected session
index_daily_moves              WARN      index row
news_duplicates                ERROR     article
news_missing_symbols           WARN      article / entity
news_stale                     WARN      the feed (one unit)
portfolio_score                ERROR     the portfolio (one unit)
=============================  ========  ======================================================

Invariant: ``outcome.passed`` is True exactly when ``offending`` is empty (except a check that
could evaluate nothing at all, which fails with an explanatory row).

Decisions where the methodology is silent are written next to each check.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autoindex_pipeline.domain.calendar import DEFAULT_CALENDAR, EXCHANGE_TIMEZONE, DateLike, is_session, sessions_between

ERROR = "ERROR"
WARN = "WARN"
SEVERITIES = (ERROR, WARN)
OFFENDING_COLUMNS: tuple[str, ...] = ("symbol", "date", "value", "reason", "severity")
SAMPLE_ROWS = 20
"""Default size of the bounded sample of offending rows shown in metadata and reports."""

GREEN, YELLOW, RED, GREY = "green", "yellow", "red", "grey"
GREEN_ABOVE = 0.95
"""A quality score strictly above this is green."""
RED_BELOW = 0.85
"""A quality score strictly below this is red; in between (both ends included) is yellow."""
MIN_PORTFOLIO_SCORE = 0.9
"""Downstream assets (allocations) run only when the portfolio score is at least this."""

CELL_OK, CELL_WARN, CELL_ERROR = 1.0, 0.9, 0.0
"""Values of a (symbol, session) cell of :func:`daily_quality`: every check passed; only
warnings; an error or no valid close. They sit in the green, yellow and red bands."""

SPLIT_FACTORS: tuple[float, ...] = (1.5, 2.0, 3.0, 4.0, 5.0, 8.0, 10.0, 20.0)
"""Split factors k (new shares per old share) looked for, forward (price x 1/k) and reverse
(price x k). All are at least 3:2, i.e. a 50%+ move measured as ``max(ratio, 1/ratio) - 1``."""

_WINDOW_BLOCK_ELEMENTS = 4_000_000
_PRICE_COLUMNS = ("symbol", "date", "open", "high", "low", "close", "volume")


# --------------------------------------------------------------------------------------------
# The outcome


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

    def offending_markdown(self, n: int = SAMPLE_ROWS) -> str:
        """The bounded sample as a Markdown table (with the total count)."""
        return frame_to_markdown(self.offending_sample(n), total=self.offending_count)


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


# --------------------------------------------------------------------------------------------
# Frame helpers


def _to_naive_dates(values: Any) -> pd.Series:
    dates = pd.to_datetime(pd.Series(values), errors="coerce")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert(EXCHANGE_TIMEZONE).dt.tz_localize(None)
    return dates.dt.normalize().astype("datetime64[ns]")


def _prices(prices: pd.DataFrame, columns: Sequence[str] = _PRICE_COLUMNS) -> pd.DataFrame:
    """The needed columns, dates as tz-naive midnight datetime64[ns], sorted by (symbol, date)."""
    missing = [c for c in columns if c not in prices.columns]
    if missing:
        raise ValueError(f"price frame is missing column(s): {', '.join(missing)}")
    out = prices.loc[:, list(columns)].copy()
    out["symbol"] = out["symbol"].astype(str).to_numpy(dtype=object)
    if out["date"].dtype != "datetime64[ns]":
        out["date"] = _to_naive_dates(out["date"]).to_numpy()
    for col in columns:
        if col not in ("symbol", "date"):
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    return out.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)


def _sessions(sessions: Iterable[Any] | None, *frames: pd.DataFrame, calendar: str = DEFAULT_CALENDAR) -> pd.DatetimeIndex:
    """The given sessions (normalised, sorted, unique), else the calendar's sessions spanning
    the frames' dates."""
    if sessions is not None:
        idx = pd.DatetimeIndex(pd.to_datetime(list(sessions) if not isinstance(sessions, pd.Index) else sessions))
        return idx.normalize().astype("datetime64[ns]").unique().sort_values()
    dates = [f["date"] for f in frames if f is not None and len(f)]
    if not dates:
        return pd.DatetimeIndex([], dtype="datetime64[ns]")
    lo = min(d.min() for d in dates)
    hi = max(d.max() for d in dates)
    return sessions_between(lo, hi, calendar)


def listing_frame(listed: Mapping[str, DateLike] | None = None, delisted: Mapping[str, DateLike] | None = None) -> pd.DataFrame:
    """A listing frame (symbol, listed, delisted) from two maps; NaT where unknown.

    ``listed`` is the first session a symbol trades, ``delisted`` its last one (inclusive).
    """
    listed = dict(listed or {})
    delisted = dict(delisted or {})
    symbols = sorted(set(listed) | set(delisted))
    return pd.DataFrame(
        {
            "symbol": pd.Series(symbols, dtype=object),
            "listed": _to_naive_dates([listed.get(s) for s in symbols]).to_numpy(),
            "delisted": _to_naive_dates([delisted.get(s) for s in symbols]).to_numpy(),
        }
    )


def _listing_lookup(listing: pd.DataFrame | None, symbols: Sequence[str]) -> tuple[pd.Series, pd.Series]:
    nat = pd.Series(pd.NaT, index=pd.Index(symbols, dtype=object), dtype="datetime64[ns]")
    if listing is None or len(listing) == 0:
        return nat, nat.copy()
    frame = listing.copy()
    frame["symbol"] = frame["symbol"].astype(str)
    frame = frame.drop_duplicates("symbol", keep="last").set_index("symbol")
    listed = _to_naive_dates(frame["listed"]) if "listed" in frame else pd.Series(pd.NaT, index=frame.index)
    delisted = _to_naive_dates(frame["delisted"]) if "delisted" in frame else pd.Series(pd.NaT, index=frame.index)
    listed.index, delisted.index = frame.index, frame.index
    return listed.reindex(nat.index).astype("datetime64[ns]"), delisted.reindex(nat.index).astype("datetime64[ns]")


def _active_bounds(
    frame: pd.DataFrame,
    sessions: pd.DatetimeIndex,
    listing: pd.DataFrame | None,
    symbols: Sequence[str] | None,
) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """Each symbol's active range inside ``sessions`` as session positions ``[lo, hi]``.

    With ``symbols`` (the universe) every symbol is expected on every session of the window;
    without it, only the symbols with rows, from their first to their last row. Known listing
    (``listed``) and delisting (``delisted``) dates override either end. ``lo > hi`` means the
    symbol is not expected at all in the window.
    """
    in_window = frame[frame["date"].isin(sessions)]
    seen = pd.Index(pd.unique(in_window["symbol"]), dtype=object)
    names = pd.Index(list(dict.fromkeys([*map(str, symbols)])) if symbols is not None else sorted(seen), dtype=object)
    n = len(sessions)
    if symbols is not None:
        lo = np.zeros(len(names), dtype=np.int64)
        hi = np.full(len(names), n - 1, dtype=np.int64)
    else:
        first_last = in_window.groupby("symbol", sort=False)["date"].agg(["min", "max"]).reindex(names)
        lo = sessions.searchsorted(first_last["min"].to_numpy(), side="left").astype(np.int64)
        hi = (sessions.searchsorted(first_last["max"].to_numpy(), side="right") - 1).astype(np.int64)
    listed, delisted = _listing_lookup(listing, list(names))
    has_listed = listed.notna().to_numpy()
    has_delisted = delisted.notna().to_numpy()
    if has_listed.any():
        lo = np.where(has_listed, sessions.searchsorted(listed.to_numpy(), side="left"), lo)
    if has_delisted.any():
        hi = np.where(has_delisted, sessions.searchsorted(delisted.to_numpy(), side="right") - 1, hi)
    return names, lo.astype(np.int64), np.minimum(hi, n - 1).astype(np.int64)


def _valid_close(close: pd.Series | np.ndarray) -> np.ndarray:
    values = np.asarray(close, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(values) & (values > 0)


# --------------------------------------------------------------------------------------------
# Legacy figures (used by the CLI summary): unchanged signatures


def completeness(prices: pd.DataFrame, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """Valid closes / expected sessions over each symbol's active range.

    The active range runs from the symbol's first to its last stored row, clipped to
    ``sessions``: a stock listed mid-range or delisted is not penalised for days it did not
    trade, while a gap inside its life is. A close that is missing, NaN or <= 0 is not valid.
    Columns: symbol, first_date, last_date, expected, valid, completeness.
    """
    sessions = pd.DatetimeIndex(sessions)
    if prices.empty or sessions.empty:
        return pd.DataFrame(columns=["symbol", "first_date", "last_date", "expected", "valid", "completeness"])
    in_range = prices[prices["date"].isin(sessions)]
    valid_close = in_range["close"].gt(0) & np.isfinite(in_range["close"])
    grouped = in_range.assign(valid=valid_close).groupby("symbol")
    out = grouped.agg(first_date=("date", "min"), last_date=("date", "max"), valid=("valid", "sum")).reset_index()
    positions = sessions.searchsorted
    out["expected"] = positions(out["last_date"], side="right") - positions(out["first_date"], side="left")
    out["completeness"] = out["valid"] / out["expected"]
    return out.loc[:, ["symbol", "first_date", "last_date", "expected", "valid", "completeness"]]


def validity_violations(prices: pd.DataFrame) -> pd.DataFrame:
    """Rows breaking ``low <= min(open, close) <= max(open, close) <= high``, with a
    non-positive price, or a negative volume. Adds a ``reason`` column naming the rule."""
    o, h, low, c, v = (prices[k] for k in ("open", "high", "low", "close", "volume"))
    non_positive = (o <= 0) | (h <= 0) | (low <= 0) | (c <= 0)
    ohlc = (low > np.minimum(o, c)) | (np.maximum(o, c) > h) | (low > h)
    negative_volume = v < 0
    reason = np.select(
        [non_positive, ohlc, negative_volume],
        ["non-positive price", "OHLC inconsistent", "negative volume"],
        default="",
    )
    mask = reason != ""
    return prices.loc[mask].assign(reason=reason[mask])


def duplicate_rows(prices: pd.DataFrame) -> pd.DataFrame:
    """Rows sharing a (symbol, date) with another row."""
    return prices[prices.duplicated(["symbol", "date"], keep=False)]


# --------------------------------------------------------------------------------------------
# Price checks


def check_completeness(
    prices: pd.DataFrame,
    sessions: pd.DatetimeIndex,
    min_ratio: float = 0.98,
    listing: pd.DataFrame | None = None,
    *,
    symbols: Sequence[str] | None = None,
    period: str | None = "M",
) -> CheckOutcome:
    """Valid closes / expected sessions, per symbol and calendar ``period``, >= ``min_ratio``.

    Active range: see :func:`_active_bounds`. Without ``symbols`` a symbol is expected from its
    first to its last row in the window (so a stock listed or delisted mid-window is not
    penalised, and neither is a feed that silently stopped: :func:`check_staleness` catches
    that). With ``symbols`` (the universe) each symbol is expected on every session of the
    window, which is what a one-session partition needs to see a symbol with no row at all.
    ``listing`` (symbol, listed, delisted) overrides either end with known dates.

    Why per calendar month (``period="M"``, the default): over a whole year a 5-session halt
    is 247/252 = 0.9802 and 3 missing days 249/252 = 0.988, both >= 0.98, so a window-wide
    ratio would pass the very faults the check exists for, and its verdict would depend on how
    long the run's window is. Per month (19-23 sessions) one missing session already gives at
    most 22/23 = 0.957 < 0.98, the same verdict whether the sessions are checked one partition
    at a time or in a five-year backfill. ``period=None`` measures the whole window instead.

    A close that is missing, NaN or <= 0 is not valid. Offending rows: every expected session
    without a valid close in a (symbol, period) below ``min_ratio`` (value: the close if a row
    exists, else NaN). Pass rate per symbol: valid / expected over the window. Observed: the
    worst (symbol, period) ratio. ``details``: ``per_symbol`` (symbol, first_date, last_date,
    expected, valid, completeness, worst_period, worst_ratio) and ``per_session`` (date,
    expected, present, ratio) - the completeness of each partition across symbols.
    """
    frame = _prices(prices, ("symbol", "date", "close"))
    sessions = _sessions(sessions, frame)
    names, lo, hi = _active_bounds(frame, sessions, listing, symbols)
    n_sess, n_sym = len(sessions), len(names)
    description = f"valid closes / expected sessions per symbol and {'calendar ' + period if period else 'window'} >= {min_ratio}"
    if n_sess == 0 or n_sym == 0:
        return _outcome("completeness", _empty_offending(), severity=ERROR, observed=1.0, threshold=min_ratio, description=description)

    in_sessions = frame["date"].isin(sessions).to_numpy()
    sub = frame.loc[in_sessions]
    sym_code = names.get_indexer(sub["symbol"])
    pos = sessions.searchsorted(sub["date"].to_numpy())
    known = sym_code >= 0
    sym_code, pos = sym_code[known], pos[known]
    close = sub["close"].to_numpy()[known]
    valid = _valid_close(close)

    present = np.zeros((n_sess, n_sym), dtype=bool)
    present[pos[valid], sym_code[valid]] = True
    row_close = np.full((n_sess, n_sym), np.nan)
    row_close[pos, sym_code] = close  # the close of a row that exists but is not valid
    has_row = np.zeros((n_sess, n_sym), dtype=bool)
    has_row[pos, sym_code] = True

    t = np.arange(n_sess)[:, None]
    active = (t >= lo[None, :]) & (t <= hi[None, :])
    expected_sym = active.sum(axis=0)
    valid_sym = (present & active).sum(axis=0)

    if period:
        bucket_codes, bucket_labels = pd.factorize(sessions.to_period(period))
    else:
        bucket_codes, bucket_labels = np.zeros(n_sess, dtype=np.int64), pd.Index(["window"])
    n_b = len(bucket_labels)
    onehot = np.zeros((n_b, n_sess))
    onehot[bucket_codes, np.arange(n_sess)] = 1.0
    expected_b = onehot @ active.astype(float)  # (buckets, symbols)
    valid_b = onehot @ (present & active).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio_b = np.where(expected_b > 0, valid_b / np.where(expected_b > 0, expected_b, 1.0), np.nan)
    failing_b = ratio_b < min_ratio  # NaN compares False

    missing = active & ~present & failing_b[bucket_codes, :]
    t_idx, s_idx = np.nonzero(missing)
    values = row_close[t_idx, s_idx]
    reason = np.where(
        has_row[t_idx, s_idx],
        "close missing or not positive",
        "no row",
    )
    ratio_txt = ratio_b[bucket_codes[t_idx], s_idx]
    period_txt = np.asarray(bucket_labels.astype(str))[bucket_codes[t_idx]] if len(t_idx) else np.array([], dtype=object)
    reason = pd.Series(reason, dtype=object) + " (" + pd.Series(period_txt, dtype=object) + " at " + pd.Series(ratio_txt).map("{:.3f}".format) + ")"
    off = _offending(names.to_numpy()[s_idx], sessions.to_numpy()[t_idx], values, reason.to_numpy(), ERROR)
    off = off.sort_values(["symbol", "date"], kind="stable")

    expected_ok = expected_sym > 0
    rates = pd.Series(valid_sym[expected_ok] / expected_sym[expected_ok], index=pd.Index(names[expected_ok], name="symbol", dtype=object), name="pass_rate")
    worst_b = np.where(np.isnan(ratio_b), np.inf, ratio_b)
    worst_idx = worst_b.argmin(axis=0)
    worst_ratio = np.where(expected_ok, worst_b[worst_idx, np.arange(n_sym)], np.nan)
    per_symbol = pd.DataFrame(
        {
            "symbol": names.to_numpy(),
            "first_date": np.where(expected_ok, sessions.to_numpy()[np.clip(lo, 0, n_sess - 1)], np.datetime64("NaT")),
            "last_date": np.where(expected_ok, sessions.to_numpy()[np.clip(hi, 0, n_sess - 1)], np.datetime64("NaT")),
            "expected": expected_sym,
            "valid": valid_sym,
            "completeness": np.where(expected_ok, valid_sym / np.maximum(expected_sym, 1), np.nan),
            "worst_period": np.asarray(bucket_labels.astype(str), dtype=object)[worst_idx],
            "worst_ratio": worst_ratio,
        }
    )
    per_symbol = per_symbol[expected_ok].reset_index(drop=True)
    exp_t = active.sum(axis=1)
    pres_t = (present & active).sum(axis=1)
    per_session = pd.DataFrame(
        {"date": sessions.to_numpy(), "expected": exp_t, "present": pres_t, "ratio": np.where(exp_t > 0, pres_t / np.maximum(exp_t, 1), np.nan)}
    )
    observed = float(np.nanmin(worst_ratio)) if expected_ok.any() else 1.0
    return _outcome(
        "completeness",
        off,
        severity=ERROR,
        observed=observed,
        threshold=min_ratio,
        description=description,
        per_symbol=rates,
        evaluated=int(expected_sym.sum()),
        details={
            "per_symbol": per_symbol,
            "per_session": per_session,
            "missing_tolerated": int((active & ~present).sum() - missing.sum()),
            "period": period,
        },
    )


def check_ohlc_validity(prices: pd.DataFrame) -> CheckOutcome:
    """``low <= min(open, close)`` and ``max(open, close) <= high`` on every row.

    Each bound is checked where both of its prices are present (a missing price is the
    completeness / positivity checks' business), like GX's pair expectations with
    ``ignore_row_if="either_value_is_missing"``. ``value`` is the close; ``reason`` names the
    first broken bound (close above high, close below low, open above high, open below low, low
    above high). Pass rate: every row is a unit. ERROR.
    """
    frame = _prices(prices)
    o, h, low, c = (frame[k].to_numpy() for k in ("open", "high", "low", "close"))
    with np.errstate(invalid="ignore"):
        conditions = [c > h, c < low, o > h, o < low, low > h]  # NaN compares False
    names = ["close above high", "close below low", "open above high", "open below low", "low above high"]
    bad = np.logical_or.reduce(conditions)
    reason = np.select(conditions, names, default="")
    off = _offending(frame["symbol"].to_numpy()[bad], frame["date"].to_numpy()[bad], c[bad], reason[bad], ERROR)
    detail = pd.DataFrame({k: frame[k].to_numpy()[bad] for k in ("open", "high", "low")})
    off = pd.concat([off, detail], axis=1)
    codes, uniques = pd.factorize(frame["symbol"])
    return _outcome(
        "ohlc_validity",
        off,
        severity=ERROR,
        observed=float(bad.sum()),
        threshold=0,
        description="low <= min(open, close) <= max(open, close) <= high",
        per_symbol=_pass_rates(codes, uniques, bad),
        evaluated=len(frame),
    )


def check_positive_prices_and_volume(prices: pd.DataFrame) -> CheckOutcome:
    """Prices > 0, volume >= 0, and a close on every row.

    Flags a row whose close is missing (NaN) or infinite, any open/high/low/close <= 0, or a
    negative volume. A missing open/high/low or volume is not flagged (some feeds have
    none); a missing close is, because it is the price the index uses. One offending row per
    price row, reason = the first rule it breaks (close, open, high, low, volume). ERROR.
    """
    frame = _prices(prices)
    o, h, low, c, v = (frame[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
    with np.errstate(invalid="ignore"):
        conditions = [np.isnan(c), c <= 0, np.isinf(c), o <= 0, h <= 0, low <= 0, v < 0]
    names = ["close missing", "close not positive", "close not finite", "open not positive", "high not positive", "low not positive", "negative volume"]
    values = [c, c, c, o, h, low, v]
    bad = np.logical_or.reduce(conditions)
    reason = np.select(conditions, names, default="")
    value = np.select(conditions, values, default=np.nan)
    off = _offending(frame["symbol"].to_numpy()[bad], frame["date"].to_numpy()[bad], value[bad], reason[bad], ERROR)
    codes, uniques = pd.factorize(frame["symbol"])
    return _outcome(
        "positive_prices_and_volume",
        off,
        severity=ERROR,
        observed=float(bad.sum()),
        threshold=0,
        description="close present, open/high/low/close > 0, volume >= 0",
        per_symbol=_pass_rates(codes, uniques, bad),
        evaluated=len(frame),
    )


def check_duplicates(prices: pd.DataFrame) -> CheckOutcome:
    """No two rows share a (symbol, date). Every row of a duplicated key is offending
    (value: its close; reason: how many rows share the key). ERROR."""
    frame = _prices(prices, ("symbol", "date", "close"))
    dup = frame.duplicated(["symbol", "date"], keep=False).to_numpy()
    counts = frame.groupby(["symbol", "date"], sort=False)["close"].transform("size").to_numpy()
    reason = pd.Series(counts[dup]).map(lambda n: f"{n} rows share this (symbol, date)").to_numpy(dtype=object)
    off = _offending(frame["symbol"].to_numpy()[dup], frame["date"].to_numpy()[dup], frame["close"].to_numpy()[dup], reason, ERROR)
    codes, uniques = pd.factorize(frame["symbol"])
    return _outcome(
        "duplicates",
        off,
        severity=ERROR,
        observed=float(dup.sum()),
        threshold=0,
        description="unique (symbol, date)",
        per_symbol=_pass_rates(codes, uniques, dup),
        evaluated=len(frame),
    )


def _combined(prices: pd.DataFrame, history: pd.DataFrame | None, columns: Sequence[str]) -> pd.DataFrame:
    """History + prices (prices win on a shared key), sorted, with ``in_window``."""
    frame = _prices(prices, columns).assign(in_window=True)
    if history is not None and len(history):
        hist = _prices(history, columns).assign(in_window=False)
        first = frame["date"].min() if len(frame) else None
        if first is not None:
            hist = hist[hist["date"] < first]
        frame = pd.concat([hist, frame], ignore_index=True)
        frame = frame.drop_duplicates(["symbol", "date"], keep="last")
        frame = frame.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)
    return frame


def _split_label(k: np.ndarray) -> np.ndarray:
    labels = {1.5: "3:2 split", 2 / 3: "2:3 reverse split"}
    out = []
    for x in k:
        if any(abs(x - key) < 1e-12 for key in labels):
            out.append(next(v for key, v in labels.items() if abs(x - key) < 1e-12))
        elif x >= 1:
            out.append(f"{x:g}:1 split")
        else:
            out.append(f"1:{1 / x:g} reverse split")
    return np.asarray(out, dtype=object)


def _split_flags(frame: pd.DataFrame, factors: Sequence[float], tolerance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """On a (symbol, date)-sorted frame: (is probable split, matched factor k, close ratio).

    A row is a probable split when, against the previous row of the same symbol,
    1. the close ratio is within ``tolerance`` (in log terms) of ``1/k`` for a factor k in
       ``factors`` or its inverse (reverse split),
    2. the open moved by the same factor overnight (when there is an open): a split shifts the
       whole bar, a bad print of the close alone does not,
    3. the move does not revert the previous row's move (the row after a bad print is a return
       to normal, not a split), and
    4. the next row (when there is one) does not revert it (a print x10 then back is not a
       1:10 reverse split).
    """
    sym = frame["symbol"].to_numpy()
    close = frame["close"].to_numpy()
    open_ = frame["open"].to_numpy() if "open" in frame else np.full(len(frame), np.nan)
    valid = _valid_close(close)
    c = np.where(valid, close, np.nan)
    same_prev = np.r_[False, sym[1:] == sym[:-1]]
    same_next = np.r_[sym[:-1] == sym[1:], False]
    prev = np.where(same_prev, np.r_[np.nan, c[:-1]], np.nan)
    nxt = np.where(same_next, np.r_[c[1:], np.nan], np.nan)
    prev2 = np.where(same_prev & np.r_[False, same_prev[:-1]], np.r_[np.nan, np.nan, c[:-2]], np.nan) if len(c) >= 2 else np.full(len(c), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        lr = np.log(c / prev)
        lo = np.log(np.where(open_ > 0, open_, np.nan) / prev)
        lr_next = np.log(nxt / prev)
        lr_prev2 = np.log(c / prev2)
        lr_prevmove = np.log(prev / prev2)
    ks = np.asarray(list(factors) + [1.0 / f for f in factors], dtype=float)
    targets = -np.log(ks)  # log price ratio of a split of factor k
    dist = np.abs(lr[:, None] - targets[None, :])
    best = np.nanargmin(np.where(np.isnan(dist), np.inf, dist), axis=1) if len(lr) else np.zeros(0, dtype=np.int64)
    best_dist = dist[np.arange(len(lr)), best] if len(lr) else np.zeros(0)
    near = best_dist <= tolerance
    open_ok = ~np.isfinite(lo) | (np.abs(lo - targets[best]) <= tolerance)
    with np.errstate(invalid="ignore"):
        reverted_next = np.isfinite(lr_next) & (np.abs(lr_next) < np.abs(lr) / 2)
        reverts_prev = np.isfinite(lr_prev2) & (np.abs(lr_prevmove) > np.abs(lr) / 2) & (np.abs(lr_prev2) < np.abs(lr) / 2)
    flags = near & open_ok & ~reverted_next & ~reverts_prev & np.isfinite(lr)
    return flags, ks[best] if len(lr) else np.zeros(0), np.exp(lr)


def check_probable_splits(
    prices: pd.DataFrame,
    history: pd.DataFrame | None = None,
    *,
    factors: Sequence[float] = SPLIT_FACTORS,
    tolerance: float = 0.1,
) -> CheckOutcome:
    """Overnight moves that look like an unadjusted split (see :func:`_split_flags`). WARN.

    The methodology uses raw closes, so a split costs the index until an operator corrects the
    data; this check names the rows. "50%+ move with a ratio near 2:1, 3:1, 3:2, 1:2..." is read
    as: the split factor is at least 3:2 (``max(ratio, 1/ratio) - 1 >= 50%``) and the observed
    close ratio is within ``tolerance`` in log terms (default 0.1, i.e. about +-10%, room for the
    day's own move) of ``1/k``. ``history`` supplies the close before the window's first row.
    Offending value: the close ratio; reason: the matched split. Pass rate: rows with a
    previous close that are not probable splits.
    """
    frame = _combined(prices, history, ("symbol", "date", "open", "close"))
    flags, k, ratio = _split_flags(frame, factors, tolerance)
    window = frame["in_window"].to_numpy()
    with np.errstate(invalid="ignore"):
        evaluated = window & np.isfinite(ratio)
    bad = flags & window
    label = _split_label(k[bad])
    reason = pd.Series(label, dtype=object) + pd.Series(ratio[bad]).map(lambda r: f" (close x{r:.3f})").to_numpy(dtype=object)
    off = _offending(frame["symbol"].to_numpy()[bad], frame["date"].to_numpy()[bad], ratio[bad], reason.to_numpy(), WARN)
    codes, uniques = pd.factorize(frame["symbol"])
    return _outcome(
        "probable_splits",
        off,
        severity=WARN,
        observed=float(bad.sum()),
        threshold=0,
        description=f"overnight close and open ratio within {tolerance:g} (log) of a split factor, not reverted",
        per_symbol=_pass_rates(codes, uniques, bad, evaluated),
        evaluated=int(evaluated.sum()),
        details={"splits": off.loc[:, ["symbol", "date", "value", "reason"]]},
    )


def _sorted_median(sorted_block: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Median along the last axis of an ascending-sorted block whose NaNs sit at the end."""
    lo = np.clip((counts - 1) // 2, 0, None)[..., None]
    hi = np.clip(counts // 2, 0, None)[..., None]
    a = np.take_along_axis(sorted_block, lo, axis=-1)[..., 0]
    b = np.take_along_axis(sorted_block, hi, axis=-1)[..., 0]
    return np.where(counts > 0, (a + b) / 2.0, np.nan)


def past_robust_z(returns: np.ndarray, window: int = 60, min_periods: int = 20, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Robust z of each return against the ``window`` returns BEFORE it (past only).

    ``returns`` is sessions x symbols (NaN = no return). For row t the reference is rows
    t-window .. t-1: ``z = 0.6745 * (r - median) / MAD``; NaN with fewer than ``min_periods``
    valid past returns or a zero MAD. Only ``rows`` (a boolean mask over sessions, default all)
    are computed. Blocks of sessions are sorted at once (memory bounded), never one row at a time.
    Returns (z, median, mad).
    """
    r = np.asarray(returns, dtype=float)
    n_t, n_s = r.shape
    z = np.full((n_t, n_s), np.nan)
    med = np.full((n_t, n_s), np.nan)
    mad = np.full((n_t, n_s), np.nan)
    if n_t == 0 or n_s == 0:
        return z, med, mad
    pad = np.vstack([np.full((window, n_s), np.nan), r])
    views = np.lib.stride_tricks.sliding_window_view(pad, window, axis=0)  # views[t] = r[t-window:t]
    wanted = np.flatnonzero(np.ones(n_t, dtype=bool) if rows is None else np.asarray(rows, dtype=bool))
    if len(wanted) == 0:
        return z, med, mad
    step = max(1, _WINDOW_BLOCK_ELEMENTS // (n_s * window))
    for start in range(0, len(wanted), step):
        idx = wanted[start : start + step]
        block = views[idx]  # (b, symbols, window)
        counts = np.sum(~np.isnan(block), axis=-1)
        m = _sorted_median(np.sort(block, axis=-1), counts)
        d = _sorted_median(np.sort(np.abs(block - m[..., None]), axis=-1), counts)
        ok = (counts >= min_periods) & (d > 0)
        m = np.where(ok, m, np.nan)
        d = np.where(ok, d, np.nan)
        med[idx], mad[idx] = m, d
        with np.errstate(invalid="ignore", divide="ignore"):
            z[idx] = 0.6745 * (r[idx] - m) / d
    return z, med, mad


def check_outliers(
    prices: pd.DataFrame,
    history: pd.DataFrame | None = None,
    max_daily_return: float = 0.5,
    z_threshold: float = 5.0,
    window: int = 60,
    *,
    min_periods: int = 20,
    min_daily_return: float | None = None,
    max_forward_fill_days: int = 2,
    sessions: pd.DatetimeIndex | None = None,
    split_tolerance: float = 0.1,
    calendar: str = DEFAULT_CALENDAR,
) -> CheckOutcome:
    """Daily returns beyond the cap (ERROR) or with a robust z-score above ``z_threshold`` (WARN).

    Returns are the methodology's (section 2) before clipping: closes on the session grid, a
    missing close forward-filled for at most ``max_forward_fill_days`` sessions, ``r = P[t] /
    P[t-1] - 1``; only sessions with a row of their own are evaluated. So a return across a
    longer gap (a 5-session halt) is undefined here exactly as it is for the index; the gap is
    the completeness check's finding, and the reopening move is not called an outlier.

    - Cap: ``r > max_daily_return`` or ``r < min_daily_return`` (default ``-max_daily_return``).
      ERROR: the clip would silently distort the index.
    - Robust z: ``0.6745 * (r - median) / MAD`` over the ``window`` returns of the sessions
      BEFORE t (never t itself or later; ``history`` provides them before the window's first
      session), at least ``min_periods`` of them, MAD > 0. WARN: fat tails make clean data
      cross 5 about once a year per symbol (Student-t with 4 degrees of freedom).
    - Rows that are probable splits (:func:`check_probable_splits`) are not outliers (they are
      reported there), and neither is the return to normal the session after a flagged spike
      (the bad print is the spike's row; the next close is fine).

    Offending value: the return; reason names the rule (and the z-score). Pass rate: rows with
    a return that are not flagged.
    """
    lower = -max_daily_return if min_daily_return is None else min_daily_return
    frame = _combined(prices, history, ("symbol", "date", "open", "close"))
    description = f"return > {max_daily_return:g} or < {lower:g} (ERROR), robust z over {window} past sessions > {z_threshold:g} (WARN)"
    window_rows = frame[frame["in_window"]]
    if window_rows.empty:
        return _outcome("outliers", _empty_offending(), severity=ERROR, observed=0.0, threshold=max_daily_return, description=description)
    grid = _sessions(sessions, frame, calendar=calendar)
    if sessions is not None and len(grid) and frame["date"].min() < grid[0]:
        grid = grid.union(sessions_between(frame["date"].min(), grid[0], calendar))
    frame = frame[frame["date"].isin(grid)].reset_index(drop=True)
    split_flag, _, _ = _split_flags(frame, SPLIT_FACTORS, split_tolerance)

    names = pd.Index(pd.unique(frame["symbol"]), dtype=object)
    s_idx = names.get_indexer(frame["symbol"])
    t_idx = grid.searchsorted(frame["date"].to_numpy())
    n_t, n_s = len(grid), len(names)
    close = np.full((n_t, n_s), np.nan)
    close[t_idx, s_idx] = np.where(_valid_close(frame["close"]), frame["close"].to_numpy(), np.nan)
    has_row = np.zeros((n_t, n_s), dtype=bool)
    has_row[t_idx, s_idx] = _valid_close(frame["close"])
    in_window = np.zeros((n_t, n_s), dtype=bool)
    in_window[t_idx, s_idx] = frame["in_window"].to_numpy()
    split = np.zeros((n_t, n_s), dtype=bool)
    split[t_idx, s_idx] = split_flag

    filled = pd.DataFrame(close).ffill(limit=max_forward_fill_days).to_numpy() if max_forward_fill_days > 0 else close
    prev = np.vstack([np.full((1, n_s), np.nan), filled[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        ret = np.where(has_row, filled / prev - 1.0, np.nan)
    ret_ref = np.where(split, np.nan, ret)  # a split is no reference for ordinary days
    rows_needed = in_window.any(axis=1)
    rows_needed[:-1] |= rows_needed[1:]  # and the session before: a spike there excuses its reversion
    z, med, mad = past_robust_z(ret_ref, window=window, min_periods=min_periods, rows=rows_needed)

    with np.errstate(invalid="ignore"):
        cap = (ret > max_daily_return) | (ret < lower)
        zflag = np.abs(z) > z_threshold
    flagged = (cap | zflag) & ~split & np.isfinite(ret)
    # The session after a flagged spike that brings the price back is not an outlier itself.
    prev2 = np.vstack([np.full((2, n_s), np.nan), filled[:-2]]) if n_t >= 2 else np.full((n_t, n_s), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        move_prev = np.abs(np.log(prev / prev2))
        move_two = np.abs(np.log(filled / prev2))
    flagged_prev = np.vstack([np.zeros((1, n_s), dtype=bool), flagged[:-1]])
    reversion = flagged & flagged_prev & (move_two < move_prev / 2)
    flagged &= ~reversion

    evaluated = in_window & np.isfinite(ret) & ~split
    bad = flagged & in_window
    bt, bs = np.nonzero(bad)
    is_cap = cap[bt, bs]
    r_bad, z_bad = ret[bt, bs], z[bt, bs]
    reason = np.where(
        is_cap,
        pd.Series(r_bad).map(lambda r: f"return {r:+.1%} beyond the cap").to_numpy(dtype=object),
        pd.Series(z_bad).map(lambda v: f"robust z {v:+.1f} beyond {z_threshold:g}").to_numpy(dtype=object),
    )
    off = _offending(names.to_numpy()[bs], grid.to_numpy()[bt], r_bad, reason, np.where(is_cap, ERROR, WARN))
    off["z"] = z_bad
    off = off.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)
    et, es = np.nonzero(evaluated)
    codes = es
    failed = bad[et, es]
    rates = _pass_rates(codes, names.to_numpy(), failed)
    with np.errstate(invalid="ignore"):
        max_abs = float(np.nanmax(np.abs(np.where(evaluated, ret, np.nan)))) if evaluated.any() else 0.0
    return _outcome(
        "outliers",
        off,
        severity=ERROR,
        observed=max_abs,
        threshold=max_daily_return,
        description=description,
        per_symbol=rates,
        evaluated=int(evaluated.sum()),
        details={
            "beyond_cap": int(is_cap.sum()),
            "robust_z_only": int((~is_cap).sum()),
            "reversions_excused": int((reversion & in_window).sum()),
            "splits_excused": int((split & in_window).sum()),
        },
    )


def check_staleness(
    prices: pd.DataFrame,
    as_of_session: DateLike,
    max_sessions: int = 1,
    sessions: pd.DatetimeIndex | None = None,
    *,
    symbols: Sequence[str] | None = None,
    listing: pd.DataFrame | None = None,
    calendar: str = DEFAULT_CALENDAR,
) -> CheckOutcome:
    """Each symbol's newest valid close is at most ``max_sessions`` sessions before ``as_of``.

    Age = sessions between the newest close and ``as_of_session`` (0 when it is that session);
    stale when age > ``max_sessions`` (the config's ``stale_after_sessions``, default 1). With
    ``symbols`` (the universe), a symbol without any valid close is stale too. ``listing``
    (symbol, listed, delisted): a symbol delisted before ``as_of`` is measured against its
    delisting session instead (so a feed that stopped before the delisting is still caught,
    while the delisting itself is not), and a symbol listed after ``as_of`` is not expected.
    One unit per symbol; offending value: the age in sessions (NaN without any close). ERROR.
    """
    as_of = pd.Timestamp(as_of_session).normalize()
    frame = _prices(prices, ("symbol", "date", "close"))
    frame = frame[(frame["date"] <= as_of) & _valid_close(frame["close"])]
    newest = frame.groupby("symbol", sort=True)["date"].max()
    names = pd.Index(list(dict.fromkeys(map(str, symbols))) if symbols is not None else newest.index, dtype=object)
    newest = newest.reindex(names)
    first = min(newest.min(), as_of) if newest.notna().any() else as_of
    grid = sessions_between(first, as_of, calendar)
    if sessions is not None:
        grid = grid.union(_sessions(sessions))
    listed, delisted = _listing_lookup(listing, list(names))
    reference = pd.Series(as_of, index=names)
    gone = delisted.notna() & (delisted < as_of)
    reference[gone] = delisted[gone]
    expected = ~(listed.notna() & (listed > as_of))
    ref_pos = grid.searchsorted(reference.to_numpy(), side="right") - 1
    new_pos = np.where(newest.notna(), grid.searchsorted(newest.fillna(as_of).to_numpy(), side="right") - 1, -1)
    age = np.where(newest.notna(), ref_pos - new_pos, np.nan).astype(float)
    stale = expected.to_numpy() & (np.isnan(age) | (age > max_sessions))
    reason = np.where(
        np.isnan(age[stale]),
        "no close at all",
        pd.Series(age[stale]).map(lambda a: f"newest close {a:.0f} sessions old").to_numpy(dtype=object)
        + pd.Series(reference.to_numpy()[stale]).map(lambda d: f" at {pd.Timestamp(d).date()}").to_numpy(dtype=object),
    )
    off = _offending(names.to_numpy()[stale], newest.to_numpy()[stale], age[stale], reason, ERROR)
    ev = expected.to_numpy()
    rates = pd.Series(np.where(stale, 0.0, 1.0)[ev], index=pd.Index(names[ev], name="symbol"), name="pass_rate")
    finite_age = age[ev & ~np.isnan(age)]
    return _outcome(
        "staleness",
        off,
        severity=ERROR,
        observed=float(finite_age.max()) if len(finite_age) else (float("inf") if stale.any() else 0.0),
        threshold=max_sessions,
        description=f"newest close at most {max_sessions} session(s) before {as_of.date()}",
        per_symbol=rates,
        evaluated=int(ev.sum()),
        scope="symbol",
        details={"as_of": as_of, "newest": newest},
    )


def check_reconciliation(
    primary: pd.DataFrame,
    secondary: pd.DataFrame,
    sample_size: int | None = 100,
    tolerance: float = 0.002,
    seed: int = 0,
    *,
    max_mismatch_share: float = 0.0,
) -> CheckOutcome:
    """A deterministic sample of primary closes compared with a second source.

    "Mismatch above 0.2% is a failure" is read per close: a sampled close whose relative
    difference ``|p - s| / |s|`` exceeds ``tolerance`` (0.002) is a mismatch, and the check
    fails when the share of mismatching compared closes exceeds ``max_mismatch_share``
    (default 0: any mismatch fails). The sample is the ``sample_size`` (symbol, date) keys of
    the primary's valid closes with the smallest hash of (seed, symbol, date): the same keys
    whatever the row order, and ``sample_size=None`` compares every close. A key the second
    source lacks is not compared (counted in ``details``); if nothing at all could be compared
    the check fails. Offending value: the relative difference. ERROR.
    """
    description = f"sampled closes within {tolerance:.2%} of the second source"
    p = _prices(primary, ("symbol", "date", "close"))
    p = p[_valid_close(p["close"])].drop_duplicates(["symbol", "date"], keep="last")
    if p.empty:
        return _outcome("reconciliation", _empty_offending(), severity=ERROR, observed=0.0, threshold=tolerance, description=description, scope="row")
    key = f"{seed:016d}"[-16:]
    hashes = pd.util.hash_pandas_object(p.loc[:, ["symbol", "date"]], index=False, hash_key=key).to_numpy()
    order = np.argsort(hashes, kind="stable")
    chosen = p.iloc[order if sample_size is None else order[: int(sample_size)]]
    s = _prices(secondary, ("symbol", "date", "close")).drop_duplicates(["symbol", "date"], keep="last")
    merged = chosen.merge(s.rename(columns={"close": "secondary"}), on=["symbol", "date"], how="left")
    compared = merged["secondary"].notna().to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(merged["close"].to_numpy() - merged["secondary"].to_numpy()) / np.abs(merged["secondary"].to_numpy())
    mismatch = compared & ~(rel <= tolerance)
    n_cmp = int(compared.sum())
    share = float(mismatch.sum() / n_cmp) if n_cmp else float("nan")
    if n_cmp == 0:
        off = _offending(merged["symbol"], merged["date"], np.nan, "no close in the second source to compare", ERROR)
        return _outcome(
            "reconciliation", off, severity=ERROR, observed=float("nan"), threshold=tolerance, description=description,
            evaluated=0, details={"sampled": len(merged), "compared": 0, "not_in_secondary": len(merged)}, passed=False,
        )
    failed = share > max_mismatch_share
    m = merged[mismatch]
    reason = [f"primary {a:.6g} vs second source {b:.6g} ({a / b - 1:+.2%})" for a, b in zip(m["close"], m["secondary"])]
    off = _offending(m["symbol"], m["date"], rel[mismatch], reason, ERROR) if failed else _empty_offending()
    codes, uniques = pd.factorize(merged["symbol"])
    return _outcome(
        "reconciliation",
        off,
        severity=ERROR,
        observed=share,
        threshold=tolerance,
        description=description + (f", at most {max_mismatch_share:.2%} mismatching" if max_mismatch_share else ", none mismatching"),
        per_symbol=_pass_rates(codes, uniques, mismatch, compared),
        evaluated=n_cmp,
        details={
            "sampled": len(merged),
            "compared": n_cmp,
            "not_in_secondary": int((~compared).sum()),
            "mismatches": int(mismatch.sum()),
            "max_relative_difference": float(np.nanmax(rel)) if n_cmp else float("nan"),
        },
    )


# --------------------------------------------------------------------------------------------
# Allocation checks (long frame: date, symbol, weight[, strategy])


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


def _alloc_offending(rows: pd.DataFrame, value: Any, reason: Any, symbol: Any = None) -> pd.DataFrame:
    extra = {"strategy": rows["strategy"].to_numpy()} if "strategy" in rows.columns else None
    return _offending(rows["symbol"].to_numpy() if symbol is None else symbol, rows["date"].to_numpy(), value, reason, ERROR, extra)


def check_weights_sum(allocations: pd.DataFrame, tol: float = 1e-9) -> CheckOutcome:
    """Weights of each (strategy, date) sum to 1 within ``tol``. Offending: one row per bad
    (strategy, date), symbol ``*``, value the sum. ERROR."""
    frame, keys = _alloc(allocations)
    sums = frame.groupby(keys, sort=True)["weight"].sum(min_count=1).reset_index()
    dev = np.abs(sums["weight"].to_numpy() - 1.0)
    bad = ~(dev <= tol)
    rows = sums[bad].assign(symbol="*")
    reason = [f"weights sum to {w:.12g}" for w in rows["weight"]]
    off = _alloc_offending(rows, rows["weight"].to_numpy(), reason)
    return _outcome(
        "weights_sum", off, severity=ERROR, observed=float(np.nanmax(dev)) if len(dev) else 0.0, threshold=tol,
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
        "no_negative_weights", _alloc_offending(rows, w[bad], reason), severity=ERROR,
        observed=float(np.nanmin(w)) if len(w) and not np.isnan(w).all() else 0.0, threshold=0.0,
        description="every weight >= 0", per_symbol=_pass_rates(codes, uniques, bad), evaluated=len(frame), scope="table",
    )


def check_weight_cap(allocations: pd.DataFrame, cap: float | None, tol: float = 1e-9) -> CheckOutcome:
    """No weight above ``max_asset_weight`` (+ ``tol``); passes trivially without a cap. ERROR."""
    frame, _ = _alloc(allocations)
    w = frame["weight"].to_numpy()
    if cap is None:
        return _outcome("weight_cap", _empty_offending(), severity=ERROR, observed=float(np.nanmax(w)) if len(w) else 0.0,
                        threshold=None, description="no max_asset_weight configured", evaluated=0, scope="table")
    with np.errstate(invalid="ignore"):
        bad = w > cap + tol
    rows = frame[bad]
    reason = [f"weight {x:.6g} above the cap {cap:g}" for x in w[bad]]
    codes, uniques = pd.factorize(frame["symbol"])
    return _outcome(
        "weight_cap", _alloc_offending(rows, w[bad], reason), severity=ERROR,
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
    off = _alloc_offending(rows, w[bad], [f"benchmark {bench} is a constituent"] * int(bad.sum()))
    return _outcome(
        "benchmark_excluded", off, severity=ERROR, observed=float(bad.sum()), threshold=0,
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
    off = _offending(_index_symbol(rows), rows["date"].to_numpy(), rel[bad], reason, ERROR, {"stored": a[bad], "recomputed": b[bad]})
    finite = rel[np.isfinite(rel)]
    return _outcome(
        "index_recomputation", off, severity=ERROR, observed=float(finite.max()) if len(finite) else 0.0, threshold=tol,
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
        _offending(missing["_g"].to_numpy(), missing["date"].to_numpy(), np.nan, "session missing", ERROR),
        _offending(not_session["_g"].to_numpy(), not_session["date"].to_numpy(), np.nan, "not a session", ERROR),
        _offending(twice["_g"].to_numpy(), twice["date"].to_numpy(), np.nan, "date twice", ERROR),
    ]
    off = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else _empty_offending()
    return _outcome(
        "index_session_gaps", off, severity=ERROR, observed=float(len(missing)), threshold=0,
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
    off = _offending(_index_symbol(rows), rows["date"].to_numpy(), r[bad], reason, WARN)
    return _outcome(
        "index_daily_moves", off, severity=WARN, observed=float(np.nanmin(r)) if len(r) and not np.isnan(r).all() else 0.0,
        threshold=threshold, description=f"index daily return > {threshold:.2%}", evaluated=int(np.isfinite(r).sum()), scope="table",
        details={"critical": int(critical.sum())},
    )


# --------------------------------------------------------------------------------------------
# News checks


def _article_key(frame: pd.DataFrame) -> pd.Series:
    if "article_id" in frame.columns:
        return frame["article_id"].astype(str)
    return frame["provider"].astype(str) + ":" + frame["provider_id"].astype(str)


def check_news_duplicates(articles: pd.DataFrame) -> CheckOutcome:
    """No article stored twice: the same ``article_id``, the same (provider, provider_id), or the
    same normalised URL (``domain.news.normalize_url``; empty URLs never match). Every row of a
    duplicated group is offending (value: the article key). ERROR."""
    from autoindex_pipeline.domain.news import normalize_urls

    n = len(articles)
    if n == 0:
        return _outcome("news_duplicates", _empty_offending("datetime64[ns, UTC]"), severity=ERROR, observed=0.0, threshold=0,
                        description="each article stored once", scope="table")
    key = _article_key(articles)
    rules: list[tuple[str, pd.Series]] = []
    if "article_id" in articles.columns:
        rules.append(("same article_id", articles["article_id"].astype(str)))
    if {"provider", "provider_id"} <= set(articles.columns):
        rules.append(("same provider id", articles["provider"].astype(str) + ":" + articles["provider_id"].astype(str)))
    if "url" in articles.columns:
        urls = normalize_urls(articles["url"]).astype(object)
        rules.append(("same normalised URL", urls.where(urls != "")))
    reason = pd.Series("", index=articles.index, dtype=object)
    for label, values in rules:
        dup = values.notna() & values.duplicated(keep=False)
        reason = reason.where(~(dup & (reason == "")), label)
    bad = (reason != "").to_numpy()
    published = articles["published_at"] if "published_at" in articles.columns else pd.Series(pd.NaT, index=articles.index)
    off = _offending("", published.to_numpy()[bad], key.to_numpy()[bad], reason.to_numpy()[bad], ERROR)
    return _outcome("news_duplicates", off, severity=ERROR, observed=float(bad.sum()), threshold=0,
                    description="each article stored once (id, provider id, normalised URL)", evaluated=n, scope="table")


def check_news_missing_symbols(entities: pd.DataFrame, universe: Iterable[str], articles: pd.DataFrame | None = None) -> CheckOutcome:
    """Entities naming a symbol outside the universe, and (with ``articles``) articles linked to
    no universe symbol at all. Rows are joined on ``article_id`` when both frames have it, else
    on (provider, provider_id). WARN: such articles are kept but feed no sentiment."""
    known = {str(s).strip().upper() for s in universe}
    ent_sym = entities["symbol"].astype(str).str.strip().str.upper() if len(entities) else pd.Series([], dtype=object)
    unknown = ~ent_sym.isin(known).to_numpy() if len(entities) else np.zeros(0, dtype=bool)
    ent_key = _article_key(entities) if len(entities) else pd.Series([], dtype=object)
    parts = [_offending(ent_sym.to_numpy()[unknown], pd.NaT, ent_key.to_numpy()[unknown], "symbol not in the universe", WARN)]
    evaluated = len(entities)
    if articles is not None and len(articles):
        art_key = _article_key(articles)
        linked = set(ent_key[~unknown]) if len(entities) else set()
        orphan = ~art_key.isin(linked).to_numpy()
        published = articles["published_at"] if "published_at" in articles.columns else pd.Series(pd.NaT, index=articles.index)
        parts.append(_offending("", published.to_numpy()[orphan], art_key.to_numpy()[orphan], "article linked to no universe symbol", WARN))
        evaluated += len(articles)
    parts = [p for p in parts if len(p)]
    off = pd.concat(parts, ignore_index=True) if parts else _empty_offending()
    return _outcome("news_missing_symbols", off, severity=WARN, observed=float(len(off)), threshold=0,
                    description="every article linked to a universe symbol, every entity symbol in the universe",
                    evaluated=evaluated, scope="table")


def check_news_stale(
    articles: pd.DataFrame,
    now: DateLike,
    max_hours: float = 24.0,
    is_trading_day: Callable[[pd.Timestamp], bool] | None = None,
    *,
    calendar: str = DEFAULT_CALENDAR,
) -> CheckOutcome:
    """The newest article is at most ``max_hours`` old at ``now``, on a trading day.

    "No article for 24 h on a trading day": when ``now`` (read in the exchange time zone) is
    not a session of ``calendar`` (or ``is_trading_day(now)`` says no), the feed may be quiet
    and the check passes. No article at all is stale. One unit (the feed). WARN.
    """
    now_ts = pd.Timestamp(now)
    now_ts = now_ts.tz_localize("UTC") if now_ts.tzinfo is None else now_ts.tz_convert("UTC")
    local_day = now_ts.tz_convert(EXCHANGE_TIMEZONE).tz_localize(None).normalize()
    trading = bool(is_trading_day(local_day)) if is_trading_day is not None else is_session(local_day, calendar)
    published = pd.to_datetime(articles["published_at"], utc=True) if len(articles) else pd.Series([], dtype="datetime64[ns, UTC]")
    published = published[published <= now_ts]
    newest = published.max() if len(published) else pd.NaT
    age_h = (now_ts - newest) / pd.Timedelta(hours=1) if newest is not pd.NaT else float("inf")
    stale = trading and (pd.isna(newest) or age_h > max_hours)
    reason = "no article at all" if pd.isna(newest) else f"newest article {age_h:.1f} h old"
    off = _offending(["*"], [newest], [age_h if np.isfinite(age_h) else np.nan], [reason], WARN) if stale else _empty_offending("datetime64[ns, UTC]")
    return _outcome("news_stale", off, severity=WARN, observed=float(age_h), threshold=max_hours,
                    description=f"newest article at most {max_hours:g} h old on a trading day", evaluated=1, scope="table",
                    details={"trading_day": trading, "newest": newest})


# --------------------------------------------------------------------------------------------
# Scores, grid, trend


def score_colour(scores: pd.Series | np.ndarray | float) -> Any:
    """green > 0.95, yellow 0.85..0.95 (both ends), red < 0.85, grey when not scored."""
    s = np.asarray(scores, dtype=float)
    out = np.select([np.isnan(s), s > GREEN_ABOVE, s >= RED_BELOW], [GREY, GREEN, YELLOW], default=RED)
    if np.ndim(out) == 0:
        return str(out)
    return pd.Series(out, index=scores.index) if isinstance(scores, pd.Series) else out


ROW_CHECKS = ("ohlc_validity", "positive_prices_and_volume", "duplicates", "outliers", "probable_splits")
"""Checks that look at the rows a symbol has; :func:`quality_scores` measures them over the
sessions it should have."""


def quality_scores(
    outcomes: Iterable[CheckOutcome],
    *,
    symbols: Sequence[str] | None = None,
    missing_fails_all: bool = True,
) -> pd.DataFrame:
    """Per symbol: score = mean of its check pass rates (over the checks that evaluated it).

    A session without a valid close passes no check (``missing_fails_all``, default): the
    pass rates of the row checks (:data:`ROW_CHECKS`) are taken over the symbol's expected
    sessions, i.e. multiplied by its completeness when a ``completeness`` outcome is given.
    Otherwise a symbol missing a third of its sessions would score (0.67 + 6 x 1.0) / 7 = 0.95,
    green, because its few rows are clean; with it, it scores about 0.7, red, as the grid shows.

    Columns: symbol, score, colour, checks (how many rated it), worst_check, worst_rate, then one
    column per check with its pass rate (as scored). Sorted worst first. ``symbols`` adds
    unrated symbols (score NaN, grey).
    """
    outcomes = list(outcomes)
    coverage = next((o.per_symbol_pass_rate for o in outcomes if o.name == "completeness"), None)
    rates: dict[str, pd.Series] = {}
    for o in outcomes:
        if len(o.per_symbol_pass_rate) == 0:
            continue
        name, k = o.name, 2
        while name in rates:
            name, k = f"{o.name}_{k}", k + 1
        rate = o.per_symbol_pass_rate.astype(float)
        if missing_fails_all and coverage is not None and o.name in ROW_CHECKS:
            rate = rate * coverage.reindex(rate.index).fillna(1.0)
        rates[name] = rate
    table = pd.DataFrame(rates)
    if symbols is not None:
        table = table.reindex(table.index.union(pd.Index(list(symbols), dtype=object)))
    table.index = table.index.astype(object)
    table.index.name = "symbol"
    score = table.mean(axis=1, skipna=True) if len(table.columns) else pd.Series(np.nan, index=table.index)
    out = pd.DataFrame({"symbol": table.index.to_numpy(dtype=object), "score": score.to_numpy(dtype=float)})
    out["colour"] = score_colour(out["score"].to_numpy())
    out["checks"] = table.notna().sum(axis=1).to_numpy()
    if len(table.columns):
        filled = table.fillna(np.inf)
        out["worst_check"] = np.where(out["checks"] > 0, filled.idxmin(axis=1).to_numpy(dtype=object), None)
        out["worst_rate"] = table.min(axis=1).to_numpy()
    else:
        out["worst_check"], out["worst_rate"] = None, np.nan
    out = pd.concat([out, table.reset_index(drop=True)], axis=1)
    return out.sort_values(["score", "symbol"], na_position="last", kind="stable").reset_index(drop=True)


def portfolio_score(scores: pd.DataFrame, weights: pd.Series | Mapping[str, float] | None = None) -> float:
    """The mean of the symbol scores (equal weights: every constituent's data matters, and the
    allocations that would weight them do not exist yet when the gate runs). ``weights``
    (symbol -> weight) gives a weighted mean instead. NaN scores are left out; NaN when none."""
    s = scores.set_index("symbol")["score"].astype(float).dropna() if len(scores) else pd.Series(dtype=float)
    if s.empty:
        return float("nan")
    if weights is None:
        return float(s.mean())
    w = pd.Series(weights, dtype=float).reindex(s.index).fillna(0.0)
    return float((s * w).sum() / w.sum()) if w.sum() > 0 else float("nan")


def check_portfolio_score(scores: pd.DataFrame, min_score: float = MIN_PORTFOLIO_SCORE, weights: pd.Series | Mapping[str, float] | None = None) -> CheckOutcome:
    """The gate before allocations: portfolio score >= ``min_score`` (0.9). When it fails, the
    symbols scoring below ``min_score`` are the offending rows (worst first). ERROR."""
    value = portfolio_score(scores, weights)
    failed = not (value >= min_score)
    low = scores[scores["score"] < min_score] if failed else scores.iloc[0:0]
    off = _offending(low["symbol"].to_numpy(), pd.NaT, low["score"].to_numpy(), [f"quality score {s:.3f} ({c})" for s, c in zip(low["score"], low["colour"])], ERROR)
    if failed and off.empty:
        off = _offending(["*"], [pd.NaT], [value], ["no symbol could be scored" if np.isnan(value) else f"portfolio score {value:.3f}"], ERROR)
    counts = scores["colour"].value_counts().to_dict() if len(scores) else {}
    return _outcome("portfolio_score", off, severity=ERROR, observed=value, threshold=min_score,
                    description=f"mean symbol quality score >= {min_score:g}", evaluated=int(scores["score"].notna().sum()) if len(scores) else 0,
                    scope="table", details={"colours": {k: int(v) for k, v in counts.items()}}, passed=not failed)


def daily_quality(
    prices: pd.DataFrame,
    sessions: pd.DatetimeIndex,
    outcomes: Iterable[CheckOutcome],
    *,
    listing: pd.DataFrame | None = None,
    symbols: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The (session x symbol) status grid behind the picture and the trend.

    A cell is :data:`CELL_OK` (1.0) when every check passed on that session, :data:`CELL_WARN`
    (0.9) when only warnings name it, :data:`CELL_ERROR` (0.0) when an ERROR row names it or
    the symbol has no valid close on a session of its active range, and NaN outside the active
    range (same rules as :func:`check_completeness`). The values sit in the score colour
    bands, so the grid is coloured like the scores. Only outcomes of scope ``row`` mark cells.
    """
    frame = _prices(prices, ("symbol", "date", "close"))
    sessions = _sessions(sessions, frame)
    names, lo, hi = _active_bounds(frame, sessions, listing, symbols)
    n_t, n_s = len(sessions), len(names)
    t = np.arange(n_t)[:, None]
    active = (t >= lo[None, :]) & (t <= hi[None, :])
    grid = np.where(active, CELL_OK, np.nan)
    sub = frame[frame["date"].isin(sessions) & _valid_close(frame["close"])]
    s_code = names.get_indexer(sub["symbol"])
    ok = s_code >= 0
    present = np.zeros((n_t, n_s), dtype=bool)
    present[sessions.searchsorted(sub["date"].to_numpy()[ok]), s_code[ok]] = True
    grid[active & ~present] = CELL_ERROR
    marks = [o.offending.loc[:, ["symbol", "date", "severity"]] for o in outcomes if o.scope == "row" and len(o.offending)]
    if marks:
        off = pd.concat(marks, ignore_index=True)
        off["date"] = _to_naive_dates(off["date"]).to_numpy()
        s_i = names.get_indexer(off["symbol"].astype(str))
        t_i = sessions.get_indexer(off["date"])
        keep = (s_i >= 0) & (t_i >= 0)
        value = np.where(off["severity"].to_numpy() == ERROR, CELL_ERROR, CELL_WARN)[keep]
        cur = grid[t_i[keep], s_i[keep]]
        np.minimum.at(grid, (t_i[keep], s_i[keep]), np.where(np.isnan(cur), np.nan, value))
    out = pd.DataFrame(grid, index=pd.DatetimeIndex(sessions, name="date"), columns=pd.Index(names, name="symbol"))
    return out


def compact_grid(grid: pd.DataFrame, freq: str | None = "W") -> pd.DataFrame:
    """The grid per period (``W`` weeks, ``M`` months, None = as is): the WORST cell of each
    (period, symbol), so one bad day stays visible. Index: each period's first session."""
    if freq is None or grid.empty:
        return grid
    periods = grid.index.to_period(freq)
    out = grid.groupby(periods).min()
    first = pd.Series(grid.index, index=grid.index).groupby(periods).min()
    out.index = pd.DatetimeIndex(first.reindex(out.index).to_numpy(), name="date")
    return out


def quality_trend(grid: pd.DataFrame, freq: str | None = "W") -> pd.DataFrame:
    """Per period: mean cell value over active (symbol, session) cells (``score``), the share
    of ok / warn / error cells, and how many symbols had an error. Columns: date (period's first
    session), score, ok, warn, error, symbols_with_errors, symbols."""
    if grid.empty:
        return pd.DataFrame(columns=["date", "score", "ok", "warn", "error", "symbols_with_errors", "symbols"])
    key = grid.index.to_period(freq) if freq else grid.index
    values = grid.to_numpy()
    active = ~np.isnan(values)
    cells = pd.DataFrame(
        {
            "key": np.repeat(np.asarray(key), values.shape[1]),
            "value": values.ravel(),
            "ok": (values == CELL_OK).ravel(),
            "warn": (values == CELL_WARN).ravel(),
            "error": (values == CELL_ERROR).ravel(),
            "active": active.ravel(),
        }
    )
    cells = cells[cells["active"]]
    agg = cells.groupby("key", sort=True).agg(score=("value", "mean"), ok=("ok", "mean"), warn=("warn", "mean"), error=("error", "mean"))
    err_sym = pd.DataFrame(values == CELL_ERROR, index=key).groupby(level=0).any().sum(axis=1)
    act_sym = pd.DataFrame(active, index=key).groupby(level=0).any().sum(axis=1)
    first = pd.Series(grid.index, index=key).groupby(level=0).min()
    agg["symbols_with_errors"] = err_sym.reindex(agg.index).to_numpy()
    agg["symbols"] = act_sym.reindex(agg.index).to_numpy()
    agg.insert(0, "date", first.reindex(agg.index).to_numpy())
    return agg.reset_index(drop=True)


def run_price_checks(
    prices: pd.DataFrame,
    sessions: pd.DatetimeIndex,
    *,
    history: pd.DataFrame | None = None,
    as_of: DateLike | None = None,
    symbols: Sequence[str] | None = None,
    listing: pd.DataFrame | None = None,
    secondary: pd.DataFrame | None = None,
    min_ratio: float = 0.98,
    max_daily_return: float = 0.5,
    z_threshold: float = 5.0,
    window: int = 60,
    max_forward_fill_days: int = 2,
    stale_after_sessions: int = 1,
    reconciliation_sample: int | None = 100,
    reconciliation_tolerance: float = 0.002,
    seed: int = 0,
) -> list[CheckOutcome]:
    """Every price check over one window, with one set of settings (for the report and the CLI).
    Staleness runs when ``as_of`` is given, reconciliation when ``secondary`` is."""
    outcomes = [
        check_completeness(prices, sessions, min_ratio, listing, symbols=symbols),
        check_ohlc_validity(prices),
        check_positive_prices_and_volume(prices),
        check_duplicates(prices),
        check_outliers(prices, history, max_daily_return, z_threshold, window, max_forward_fill_days=max_forward_fill_days, sessions=None),
        check_probable_splits(prices, history),
    ]
    if as_of is not None:
        outcomes.append(check_staleness(prices, as_of, stale_after_sessions, symbols=symbols, listing=listing))
    if secondary is not None:
        outcomes.append(check_reconciliation(prices, secondary, reconciliation_sample, reconciliation_tolerance, seed))
    return outcomes
