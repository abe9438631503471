"""The offline, deterministic default provider: synthetic but realistic daily bars.

Every price is a pure function of ``(seed, symbol, session)``. Each series is generated from one
fixed origin (the calendar's first session, 2000-01-03) with random streams seeded from a stable
hash of ``(seed, symbol)``, and a request only slices it. So one week fetched alone equals the same
week inside a five-year fetch, and adding a symbol to the universe never changes another one.
(Determinism holds for a given NumPy version: NumPy does not promise identical streams across
releases.)

Model, per symbol ``i`` and session ``t`` (log returns)::

    r[t,i] = drift_i + beta_i * market[t] + gamma_i * sector[t, sector_i] + idio_i * eps[t,i]

``market`` and each ``sector`` are shared factor paths seeded from ``(seed, "factor", "market")``
and ``(seed, "factor", "sector", name)``, the rest from ``(seed, <stream>, symbol)``; all shocks
are Student-t (df 4) scaled to unit variance, so tails are fat. Annual volatility is drawn per
symbol: equities 20-45%, ETFs 12-20%, commodity ETFs 15-35%.
Price levels are anchored at 2021-01-04 (a level between $10 and $500 there), so the years people
actually fetch look plausible whatever the random walk did since 2000.

Injected faults
---------------
A few symbols carry documented faults (missing days, a split, a bad print, a halt, a listing, a
delisting, no shares), so that the data-quality checks (domain spec section 10) have something
to find: see :mod:`autoindex_pipeline.providers.prices.sample_faults` for the table of what, where
and when, and ``SampleFaults.none()`` for a clean universe. :meth:`SampleProvider.fault_events`
lists the concrete dates for any range, for tests and docs.

Corporate actions (:meth:`SampleProvider.fetch_corporate_actions`, methodology section 2a): the
split symbol's forward and reverse splits are published as split events (ratio ``split_ratio``
and ``1 / split_ratio``), so its raw closes, at the old scale before each split, are explained and
the index does not move on them. About half the equities without a fault pay a regular quarterly
cash dividend (a yield of 0.2-0.8% drawn per symbol, ex-dates in March, June, September and
December on a day drawn per symbol); the raw close drops by the dividend on its ex-date (the open
carries the gap), and the amount is that yield times the previous close, in cents.

Shares outstanding are point in time: one row from the first session (or listing), then a new
figure from the first session on or after Feb 1, May 1, Aug 1 and Nov 1 each year (equities drift
a little down from buybacks, fund units move with creations and redemptions), plus a row on each
split session for the split symbol.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from autoindex_pipeline.domain.calendar import DEFAULT_CALENDAR, sessions_between
from autoindex_pipeline.providers.prices.base import (
    CallStats,
    FetchResult,
    ProgressCallback,
    empty_corporate_actions_frame,
    normalize_corporate_actions_frame,
    normalize_price_frame,
    normalize_shares_frame,
)
from autoindex_pipeline.providers.prices.sample_faults import FaultCalendar, SampleFaults

SOURCE = "sample"
ORIGIN = "2000-01-03"
ANCHOR = pd.Timestamp("2021-01-04")
_FAR_FUTURE = "2100-12-31"
_TRADING_DAYS = 252
_T_DF = 4.0
# The t draws are clipped and the total daily log return too, so a clean symbol can never cross
# the +-50% outlier threshold of the quality checks: exp(0.35) - 1 = +42%, exp(-0.35) - 1 = -30%.
_SHOCK_CLIP = 10.0
_RETURN_CLIP = 0.35
_MARKET_VOL = 0.16
_SECTOR_VOL = 0.10
_PROGRESS_EVERY = 100
UNIVERSE_COLUMNS = ("symbol", "name", "asset_class", "sector")
ASSET_CLASSES = ("equity", "etf", "commodity")

# asset class -> (annual vol range, beta range, sector loading, max systematic share of variance,
#                 annual drift range, volume range, market value at the anchor range)
_CLASS_PARAMS: dict[str, dict[str, tuple[float, float] | float]] = {
    "equity": {
        "vol": (0.20, 0.45), "beta": (0.6, 1.4), "gamma": 1.0, "sys_share": 0.6,
        "drift": (0.0, 0.12), "volume": (5e5, 3e7), "mcap": (5e9, 1.5e12),
    },
    "etf": {
        "vol": (0.12, 0.20), "beta": (0.75, 1.15), "gamma": 0.3, "sys_share": 0.95,
        "drift": (0.04, 0.09), "volume": (2e6, 8e7), "mcap": (2e10, 5e11),
    },
    "commodity": {
        "vol": (0.15, 0.35), "beta": (-0.1, 0.4), "gamma": 1.0, "sys_share": 0.5,
        "drift": (0.0, 0.05), "volume": (1e6, 2e7), "mcap": (1e9, 7e10),
    },
}
# Quarterly log change of shares outstanding (mean, sd): buybacks shrink equities a little, funds
# grow and shrink with creations and redemptions.
_SHARES_DRIFT = {"equity": (-0.003, 0.006), "etf": (0.01, 0.03), "commodity": (0.0, 0.04)}
_SHARES_FILING_DAYS = ("02-01", "05-01", "08-01", "11-01")
# Regular quarterly cash dividends: the share of clean equities paying them, the range of the
# quarterly yield, and the ex-date months (the day of the month is drawn per symbol).
DIVIDEND_SHARE = 0.5
_DIVIDEND_YIELD = (0.002, 0.008)
_DIVIDEND_MONTHS = (3, 6, 9, 12)
_DEFAULT_FAULT_SYMBOLS = frozenset(s for s in SampleFaults().fault_symbols().values() if s is not None)


@dataclass(frozen=True)
class _Path:
    """One symbol's clean path over its first ``m`` sessions from the origin (the prefix of the
    whole history: every draw is one sequential stream and the closes a cumulative sum)."""

    params: dict[str, float]
    r: np.ndarray  # daily log return, clipped
    jump: np.ndarray  # overnight log jump (the halt's gap, ex-dividend drops)
    log_close: np.ndarray  # log of the clean close, unrounded
    present: np.ndarray  # bool: sessions with a bar (the halt's sessions excluded)
    dividend_idx: np.ndarray  # ex-dates (sessions < m) of the symbol's cash dividends
    dividend_yield: float


def _stable_seed(seed: int, *parts: str) -> np.random.SeedSequence:
    # Python's hash() is salted per process; a cryptographic digest is the same everywhere.
    digest = hashlib.blake2b("\x1f".join((str(seed), *parts)).encode(), digest_size=16).digest()
    return np.random.SeedSequence(int.from_bytes(digest, "little"))


def _rng(seed: int, *parts: str) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(_stable_seed(seed, *parts)))



def _unit_t(rng: np.random.Generator, n: int) -> np.ndarray:
    """Student-t shocks scaled to unit variance, clipped. One 1-D draw, so any longer draw from
    the same seed starts with the same values (the horizon can grow without changing the past)."""
    draws = rng.standard_t(_T_DF, size=n) * np.sqrt((_T_DF - 2.0) / _T_DF)
    return np.clip(draws, -_SHOCK_CLIP, _SHOCK_CLIP)


def _round_prices(values: np.ndarray) -> np.ndarray:
    # Cents like a real tape; sub-dollar prices keep 4 decimals. Rounding is monotone, so the
    # OHLC ordering survives it.
    return np.where(values >= 1.0, np.round(values, 2), np.round(values, 4))


class SampleProvider(FaultCalendar):
    """Synthetic OHLCV and shares outstanding for a universe; see the module docstring. The
    fault calendar (which sessions each fault hits, and :meth:`fault_events`) comes from
    :class:`~autoindex_pipeline.providers.prices.sample_faults.FaultCalendar`."""

    name = "sample"

    def __init__(
        self,
        universe: pd.DataFrame,
        seed: int = 42,
        faults: SampleFaults | None = None,
        calendar: str = DEFAULT_CALENDAR,
    ) -> None:
        missing = [c for c in UNIVERSE_COLUMNS if c not in universe.columns]
        if missing:
            raise ValueError(f"universe is missing column(s): {', '.join(missing)}")
        uni = universe.loc[:, list(UNIVERSE_COLUMNS)].copy()
        uni["symbol"] = uni["symbol"].astype(str).str.strip()
        dupes = sorted(uni.loc[uni["symbol"].duplicated(), "symbol"].unique())
        if dupes:
            raise ValueError(f"universe lists symbol(s) twice: {', '.join(dupes)}")
        uni["asset_class"] = uni["asset_class"].astype(str).str.strip().str.lower()
        bad = sorted(set(uni["asset_class"]) - set(ASSET_CLASSES))
        if bad:
            raise ValueError(f"unknown asset_class value(s) {bad}; expected one of {list(ASSET_CLASSES)}")
        # An asset without a sector still needs a factor; its class is the natural group.
        has_sector = uni["sector"].notna() & (uni["sector"].astype(str).str.strip() != "")
        uni["sector"] = uni["sector"].where(has_sector, uni["asset_class"]).astype(str).str.strip()
        self._universe = uni.set_index("symbol")
        self.seed = int(seed)
        self.faults = SampleFaults() if faults is None else faults
        self.calendar = calendar
        self._sessions = sessions_between(ORIGIN, _FAR_FUTURE, calendar)
        self._n = len(self._sessions)
        self._anchor_idx = int(min(self._sessions.searchsorted(ANCHOR), self._n - 1))
        # Plain dicts, not functools.lru_cache on methods: those would keep every instance alive.
        self._factor_cache: dict[str, np.ndarray] = {}
        self._shares_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._yearly_cache: dict[str, np.ndarray] = {}

    @property
    def symbols(self) -> list[str]:
        return self._universe.index.tolist()

    # ------------------------------------------------------------------ public interface

    def fetch_prices(
        self,
        symbols: Sequence[str],
        start: dt.date,
        end: dt.date,
        progress: ProgressCallback | None = None,
    ) -> FetchResult:
        wanted = list(dict.fromkeys(str(s) for s in symbols))
        failures = {s: "unknown symbol" for s in wanted if s not in self._universe.index}
        known = sorted(s for s in wanted if s not in failures)
        i0 = int(self._sessions.searchsorted(pd.Timestamp(start), side="left"))
        i1 = int(self._sessions.searchsorted(pd.Timestamp(end), side="right"))
        blocks: list[np.ndarray] = []
        rows: list[np.ndarray] = []
        counts: list[int] = []
        for done, symbol in enumerate(known, start=1):
            # Only the window is built: a history is generated per call, never kept (3,000 symbols'
            # whole histories from 2000 are ~840 MiB).
            bars, present = self._bars(symbol, i0, i1)
            if present.all():
                idx = np.arange(i0, i1)
                blocks.append(bars)
            else:
                idx = np.flatnonzero(present) + i0
                blocks.append(bars[:, present])
            rows.append(idx)
            counts.append(len(idx))
            if progress is not None and (done % _PROGRESS_EVERY == 0 or done == len(known)):
                progress(done, len(known))
        if blocks:
            ohlcv = np.concatenate(blocks, axis=1)
            idx = np.concatenate(rows)
        else:
            ohlcv = np.empty((5, 0))
            idx = np.empty(0, dtype=np.int64)
        # ohlcv is already laid out as pandas' float block; a dict of columns would re-stack it.
        frame = pd.DataFrame(ohlcv.T, columns=["open", "high", "low", "close", "volume"], copy=False)
        frame.insert(0, "date", self._sessions.values[idx])
        frame.insert(0, "symbol", pd.Categorical.from_codes(np.repeat(np.arange(len(known)), counts), categories=known))
        return FetchResult(normalize_price_frame(frame, source=SOURCE), failures, CallStats(calls=1, succeeded=1))

    def fetch_corporate_actions(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> FetchResult:
        """The split symbol's splits and the payers' cash dividends with ex-date in
        ``[start, end]`` (see the module doc)."""
        wanted = list(dict.fromkeys(str(s) for s in symbols))
        failures = {s: "unknown symbol" for s in wanted if s not in self._universe.index}
        i0 = int(self._sessions.searchsorted(pd.Timestamp(start), side="left"))
        i1 = int(self._sessions.searchsorted(pd.Timestamp(end), side="right"))
        rows: list[tuple] = []
        f = self.faults
        for symbol in (s for s in wanted if s not in failures):
            if symbol == f.split_symbol:
                for idx, ratio in ((self._yearly_idx(f.split_day), f.split_ratio), (self._yearly_idx(f.reverse_split_day), 1.0 / f.split_ratio)):
                    rows += [(symbol, self._sessions[i], "split", ratio, np.nan, None) for i in idx if i0 <= i < i1]
            for i, amount in zip(*self._dividends(symbol, i1), strict=True):
                if i0 <= i < i1:
                    rows.append((symbol, self._sessions[i], "dividend", np.nan, float(amount), "USD"))
        if not rows:
            return FetchResult(empty_corporate_actions_frame(SOURCE), failures, CallStats(calls=1, succeeded=1))
        frame = pd.DataFrame(rows, columns=["symbol", "ex_date", "kind", "ratio", "amount", "currency"])
        return FetchResult(normalize_corporate_actions_frame(frame, SOURCE), failures, CallStats(calls=1, succeeded=1))

    def fetch_shares(self, symbols: Sequence[str], end: dt.date) -> FetchResult:
        wanted = list(dict.fromkeys(str(s) for s in symbols))
        failures: dict[str, str] = {}
        last = int(self._sessions.searchsorted(pd.Timestamp(end), side="right")) - 1
        names: list[str] = []
        rows: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for symbol in wanted:
            if symbol not in self._universe.index:
                failures[symbol] = "unknown symbol"
            elif symbol == self.faults.no_shares_symbol:
                failures[symbol] = "no shares outstanding published for this symbol (sample fault 'no shares')"
            else:
                idx, shares = self._shares(symbol)
                keep = idx <= last
                names.append(symbol)
                rows.append(idx[keep])
                values.append(shares[keep])
        idx = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
        frame = pd.DataFrame(
            {
                "symbol": np.repeat(np.array(names, dtype=object), [len(r) for r in rows]),
                "date": self._sessions.values[idx],
                "shares_outstanding": np.concatenate(values) if values else np.empty(0),
            }
        )
        return FetchResult(normalize_shares_frame(frame, source=SOURCE), failures, CallStats(calls=1, succeeded=1))

    # ------------------------------------------------------------------ generation

    def _factor(self, *key: str) -> np.ndarray:
        name = "\x1f".join(key)
        if name not in self._factor_cache:
            self._factor_cache[name] = _unit_t(_rng(self.seed, "factor", *key), self._n)
        return self._factor_cache[name]

    def _params(self, symbol: str) -> dict[str, float]:
        """Per-symbol constants. A fixed number of draws in a fixed order from their own stream."""
        cls = self._universe.at[symbol, "asset_class"]
        spec = _CLASS_PARAMS[cls]
        u = _rng(self.seed, "params", symbol).random(8)

        def lin(rng_pair: tuple[float, float], x: float) -> float:
            return rng_pair[0] + (rng_pair[1] - rng_pair[0]) * x

        def log(rng_pair: tuple[float, float], x: float) -> float:
            return float(np.exp(lin((np.log(rng_pair[0]), np.log(rng_pair[1])), x)))

        vol = lin(spec["vol"], u[0]) / np.sqrt(_TRADING_DAYS)
        beta = lin(spec["beta"], u[1])
        gamma = float(spec["gamma"])
        sys_var = (beta * _MARKET_VOL) ** 2 / _TRADING_DAYS + (gamma * _SECTOR_VOL) ** 2 / _TRADING_DAYS
        cap = float(spec["sys_share"]) * vol**2
        if sys_var > cap:
            # Keep the target total volatility: shrink the factor loadings rather than the idio part.
            shrink = np.sqrt(cap / sys_var)
            beta, gamma, sys_var = beta * shrink, gamma * shrink, cap
        idio = np.sqrt(vol**2 - sys_var)
        drift = (lin(spec["drift"], u[2]) - 0.5 * (vol**2 * _TRADING_DAYS)) / _TRADING_DAYS
        return {
            "vol": float(vol),
            "beta": float(beta),
            "gamma": float(gamma),
            "idio": float(idio),
            "drift": float(drift),
            "anchor_price": log((10.0, 500.0), u[3]),
            "volume": log(spec["volume"], u[4]),
            "mcap": log(spec["mcap"], u[5]),
        }

    def _path(self, symbol: str, m: int) -> _Path:
        """The clean path over the first ``m`` sessions (at least up to the anchor, which fixes
        the level): the same numbers as the first ``m`` of the whole history."""
        m = max(min(m, self._n), self._anchor_idx + 1)
        f = self.faults
        p = self._params(symbol)
        sector = self._universe.at[symbol, "sector"]
        r = (
            p["drift"]
            + p["beta"] * (_MARKET_VOL / np.sqrt(_TRADING_DAYS)) * self._factor("market")[:m]
            + p["gamma"] * (_SECTOR_VOL / np.sqrt(_TRADING_DAYS)) * self._factor("sector", sector)[:m]
            + p["idio"] * _unit_t(_rng(self.seed, "idio", symbol), m)
        )
        r = np.clip(r, -_RETURN_CLIP, _RETURN_CLIP)
        present = np.ones(m, dtype=bool)
        jump = np.zeros(m)
        if symbol == f.halt_symbol:
            for first in self._yearly_idx(f.halt_day):
                present[first : first + f.halt_sessions] = False
                resume = first + f.halt_sessions
                if resume < m:
                    jump[resume] = np.log1p(self._halt_gap_for(self._sessions[resume].year))
        dividend_idx, dividend_yield = self._dividend_schedule(symbol)
        dividend_idx = dividend_idx[dividend_idx < m]
        # The ex-dividend drop is overnight, like the halt's gap: the open carries it.
        jump[dividend_idx] += np.log1p(-dividend_yield)
        log_close = np.cumsum(r + jump)
        log_close += np.log(p["anchor_price"]) - log_close[self._anchor_idx]
        return _Path(p, r, jump, log_close, present, dividend_idx, dividend_yield)

    def _dividends(self, symbol: str, i1: int) -> tuple[np.ndarray, np.ndarray]:
        """Ex-date sessions (before ``i1``) of the symbol's cash dividends and the amount per
        share on each: the yield times the previous close, in cents (no bar drawn for them)."""
        idx, _ = self._dividend_schedule(symbol)
        idx = idx[idx < i1]
        if not len(idx):
            return idx, np.empty(0)
        path = self._path(symbol, int(idx[-1]))
        return idx, np.maximum(np.round(path.dividend_yield * np.exp(path.log_close[idx - 1]), 2), 0.01)

    def _bars(self, symbol: str, i0: int, i1: int) -> tuple[np.ndarray, np.ndarray]:
        """OHLCV (5, i1 - i0) of sessions ``i0 .. i1 - 1`` and which of them have a bar. Every
        number is the one the whole history holds there: the draws run from the origin to
        ``i1``, the element-wise formulas only over the window."""
        i0, i1 = max(i0, 0), min(i1, self._n)
        if i1 <= i0:
            return np.empty((5, 0)), np.empty(0, dtype=bool)
        f = self.faults
        path = self._path(symbol, i1)
        p = path.params
        w = slice(i0, i1)
        r, jump, present = path.r[w], path.jump[w], path.present[w].copy()
        close = np.exp(path.log_close[w])
        prev_close = np.exp(path.log_close[i0 - 1 : i1 - 1]) if i0 > 0 else (
            np.concatenate(([close[0] * np.exp(-path.r[0])], close[:-1])))

        # A (n, 4) draw is row-major, so its first rows do not depend on n either.
        # float32 is plenty for bar noise and halves the cost of the largest draw.
        z = _rng(self.seed, "bars", symbol).standard_normal((i1, 4), dtype=np.float32)[i0:].astype(np.float64)
        vol = p["vol"]
        # A jump (the halt's resumption gap) happens overnight: the open carries all of it.
        open_ = prev_close * np.exp(jump + 0.3 * r + 0.2 * vol * z[:, 0])
        high = np.maximum(open_, close) * np.exp(np.abs(z[:, 1]) * 0.5 * vol)
        low = np.minimum(open_, close) * np.exp(-np.abs(z[:, 2]) * 0.5 * vol)
        # Busy days trade more: volume rises with the size of the move.
        surprise = np.minimum(np.abs(r + jump) / vol, 6.0)
        volume = np.maximum(np.round(p["volume"] * np.exp(0.35 * z[:, 3] + 0.5 * (surprise - 0.8))), 100.0)

        ohlcv = np.vstack([open_, high, low, close, volume])
        if symbol == f.split_symbol:
            factor = self._split_factor()[w]
            ohlcv[:4] /= factor
            ohlcv[4] = np.round(ohlcv[4] * factor)
        ohlcv[:4] = _round_prices(ohlcv[:4])

        def inside(idx: np.ndarray) -> np.ndarray:
            return idx[(idx >= i0) & (idx < i1)] - i0

        if symbol == f.bad_print_symbol:
            idx = inside(self._yearly_idx(f.bad_print_day))
            ohlcv[3, idx] = _round_prices(ohlcv[3, idx] * f.bad_print_factor)
        if symbol == f.missing_days_symbol:
            present[inside(self._missing_day_idx())] = False
        if symbol == f.listed_symbol:
            present[: max(self._listing_idx() - i0, 0)] = False
        if symbol == f.delisted_symbol:
            present[max(self._delisting_idx() + 1 - i0, 0) :] = False
        return ohlcv, present

    def _dividend_schedule(self, symbol: str) -> tuple[np.ndarray, float]:
        """Ex-date sessions and the quarterly yield of a payer (none for the others): equities
        without a fault in the default configuration, ``DIVIDEND_SHARE`` of them, drawn from the
        symbol's own stream. (The default set, not the configured one: a symbol's series must not
        change when another fault configuration is chosen.)"""
        no_dividend = (np.empty(0, dtype=np.int64), 0.0)
        if self._universe.at[symbol, "asset_class"] != "equity" or symbol in _DEFAULT_FAULT_SYMBOLS:
            return no_dividend
        u = _rng(self.seed, "dividends", symbol).random(3)
        if u[0] >= DIVIDEND_SHARE:
            return no_dividend
        quarterly = _DIVIDEND_YIELD[0] + (_DIVIDEND_YIELD[1] - _DIVIDEND_YIELD[0]) * u[1]
        day = 1 + int(u[2] * 25)
        idx = np.unique(np.concatenate([self._yearly_idx(f"{m:02d}-{day:02d}") for m in _DIVIDEND_MONTHS]))
        return idx[idx > 0], float(quarterly)

    def _shares(self, symbol: str) -> tuple[np.ndarray, np.ndarray]:
        """Session index each figure is known from, and the figure."""
        cached = self._shares_cache.get(symbol)
        if cached is not None:
            return cached
        f = self.faults
        cls = self._universe.at[symbol, "asset_class"]
        p = self._params(symbol)
        filings = np.unique(np.concatenate([self._yearly_idx(md) for md in _SHARES_FILING_DAYS]))
        filings = filings[filings > 0]
        # Row k is valid from known[k] to the next row; row 0 starts at the first session.
        known = np.concatenate(([0], filings))
        mean, sd = _SHARES_DRIFT[cls]
        steps = _rng(self.seed, "shares", symbol).normal(mean, sd, size=len(known))
        steps[0] = 0.0
        log_shares = np.cumsum(steps)
        anchor_row = int(np.searchsorted(known, self._anchor_idx, side="right") - 1)
        # anchor_price is the clean (unsplit) close at the anchor; market value is set against it.
        log_shares += np.log(p["mcap"] / p["anchor_price"]) - log_shares[anchor_row]
        dates_idx, values = known, np.exp(log_shares)
        if symbol == f.split_symbol:
            splits = np.concatenate([self._yearly_idx(f.split_day), self._yearly_idx(f.reverse_split_day)])
            dates_idx = np.unique(np.concatenate([known, splits]))
            row = np.searchsorted(known, dates_idx, side="right") - 1
            values = np.exp(log_shares)[row] * self._split_factor()[dates_idx]
        lo, hi = 0, self._n - 1
        if symbol == f.listed_symbol:
            lo = self._listing_idx()
        if symbol == f.delisted_symbol:
            hi = self._delisting_idx()
        # The figure in force at the listing is known from the listing session.
        in_force = int(np.searchsorted(dates_idx, lo, side="right") - 1)
        keep = (dates_idx > lo) & (dates_idx <= hi)
        dates_idx = np.concatenate(([lo], dates_idx[keep]))
        values = np.concatenate(([values[in_force]], values[keep]))
        out = (dates_idx, np.round(values))
        self._shares_cache[symbol] = out
        return out
