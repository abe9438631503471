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
So that the data-quality checks (domain spec section 10) have something to find, a few symbols
carry documented faults (:class:`SampleFaults`, every field configurable, ``SampleFaults.none()``
for a clean universe). Each symbol carries at most one fault; every other symbol is clean (no NaN,
no OHLC violation, ``|daily return| < 0.5``, no duplicate). A fault whose symbol is not in the
universe is simply inactive. Recurring faults fire every calendar year, on the first session on
or after the given month-day, so any range of a year or more contains them; listing and delisting
are one-off dates inside the default demo window (the two years to 2026-11).

===============  =======  ==============================================================  ==========
fault            symbol   what                                                            when
===============  =======  ==============================================================  ==========
missing days     KO       no row on 3 isolated sessions a year                            yearly,
                                                                                          02-10,
                                                                                          06-10,
                                                                                          10-13
split            NVDA     2:1 forward split: raw OHLC / 2, volume x 2, shares x 2; a      yearly,
                          1:2 reverse split undoes it later in the year (keeps the        03-16 and
                          price level bounded); no ``adj_close``                          09-15
bad print        JPM      close x 10 on one session, open/high/low untouched (an          yearly,
                          outlier AND an OHLC violation); the next session is normal      08-12
halt             BA       no rows for 5 consecutive sessions (beyond the forward-fill     yearly,
                          limit of 2); trading resumes at a gap: +25% in even years,      from 05-12
                          -20% in odd years (so the level does not drift away)
listed           GEV      no rows (and no shares) before the listing date                 2025-06-02
delisted         WBA      no rows (and no shares) after the delisting date; the last      2026-03-02
                          row is on that date
no shares        MMM      prices are clean, but ``fetch_shares`` has no rows for it (it   always
                          is reported in ``failures``): the market-cap sleeve's
                          "asset without shares outstanding" case
===============  =======  ==============================================================  ==========

:meth:`SampleProvider.fault_events` lists the concrete dates for any range, for tests and docs.

Shares outstanding are point in time: one row from the first session (or listing), then a new
figure from the first session on or after Feb 1, May 1, Aug 1 and Nov 1 each year (equities drift
a little down from buybacks, fund units move with creations and redemptions), plus a row on each
split session for the split symbol.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from autoindex_pipeline.domain.calendar import DEFAULT_CALENDAR, sessions_between
from autoindex_pipeline.providers.prices.base import (
    CallStats,
    FetchResult,
    ProgressCallback,
    normalize_price_frame,
    normalize_shares_frame,
)

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


@dataclass(frozen=True)
class SampleFaults:
    """Which symbol carries which deliberate fault, and when. ``None`` disables a fault.

    Month-days (``"MM-DD"``) mean "the first session on or after that day, every year".
    """

    missing_days_symbol: str | None = "KO"
    """Symbol with a few isolated sessions that have no row at all."""
    missing_days: tuple[str, ...] = ("02-10", "06-10", "10-13")
    """Month-days of the missing sessions (months apart, so never consecutive)."""

    split_symbol: str | None = "NVDA"
    """Symbol with a forward split and, later the same year, a reverse split undoing it."""
    split_ratio: float = 2.0
    """New shares per old share at the forward split (raw prices divide by it)."""
    split_day: str = "03-16"
    """Month-day of the forward split."""
    reverse_split_day: str = "09-15"
    """Month-day of the reverse split (prices multiply by ``split_ratio`` again)."""

    bad_print_symbol: str | None = "JPM"
    """Symbol with one fat-finger close per year."""
    bad_print_day: str = "08-12"
    """Month-day of the bad print; the next session is normal again."""
    bad_print_factor: float = 10.0
    """The bad close is the true close times this; open/high/low are left as they were."""

    halt_symbol: str | None = "BA"
    """Symbol halted (no rows) for ``halt_sessions`` consecutive sessions a year."""
    halt_day: str = "05-12"
    """Month-day of the first halted session."""
    halt_sessions: int = 5
    """Length of the halt; longer than the forward-fill limit (2) on purpose."""
    halt_gap: float = 0.25
    """Jump when trading resumes: ``+halt_gap`` in even years, ``1/(1+halt_gap) - 1`` in odd ones."""

    listed_symbol: str | None = "GEV"
    """Symbol with no rows (nor shares) before ``listing_date``."""
    listing_date: dt.date = dt.date(2025, 6, 2)
    """First session with a row is the first session on or after this date."""

    delisted_symbol: str | None = "WBA"
    """Symbol with no rows (nor shares) after ``delisting_date``."""
    delisting_date: dt.date = dt.date(2026, 3, 2)
    """Last session with a row is the last session on or before this date."""

    no_shares_symbol: str | None = "MMM"
    """Symbol with clean prices but no shares outstanding at all."""

    def __post_init__(self) -> None:
        symbols = [s for s in self.fault_symbols().values() if s is not None]
        if len(symbols) != len(set(symbols)):
            raise ValueError(f"each sample fault needs its own symbol, got {symbols}")
        if self.split_ratio <= 0 or self.bad_print_factor <= 0 or self.halt_gap <= -1:
            raise ValueError("split_ratio and bad_print_factor must be > 0 and halt_gap > -1")
        if self.halt_sessions < 1:
            raise ValueError("halt_sessions must be >= 1")
        for md in (*self.missing_days, self.bad_print_day, self.halt_day):
            _parse_month_day(md)
        # Forward first, reverse later in the same year: the price divisor is then 1 or the ratio.
        if _parse_month_day(self.split_day) >= _parse_month_day(self.reverse_split_day):
            raise ValueError("split_day must come before reverse_split_day in the year")

    def fault_symbols(self) -> dict[str, str | None]:
        """Fault name -> symbol (or None when disabled)."""
        return {f.name.removesuffix("_symbol"): getattr(self, f.name) for f in fields(self) if f.name.endswith("_symbol")}

    @classmethod
    def none(cls) -> SampleFaults:
        """No fault at all: every symbol is clean."""
        return cls(**{f.name: None for f in fields(cls) if f.name.endswith("_symbol")})


@dataclass(frozen=True)
class _Series:
    """One symbol's full history from the origin: OHLCV rows and which sessions have a row."""

    ohlcv: np.ndarray  # shape (5, n_sessions): open, high, low, close, volume
    present: np.ndarray  # bool, shape (n_sessions,)


def _stable_seed(seed: int, *parts: str) -> np.random.SeedSequence:
    # Python's hash() is salted per process; a cryptographic digest is the same everywhere.
    digest = hashlib.blake2b("\x1f".join((str(seed), *parts)).encode(), digest_size=16).digest()
    return np.random.SeedSequence(int.from_bytes(digest, "little"))


def _rng(seed: int, *parts: str) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(_stable_seed(seed, *parts)))


def _parse_month_day(md: str) -> tuple[int, int]:
    try:
        month, day = (int(x) for x in md.split("-"))
        dt.date(2000, month, day)  # 2000 is a leap year, so 02-29 passes
    except (ValueError, TypeError) as exc:
        raise ValueError(f"expected a month-day like '03-16', got {md!r}") from exc
    return month, day


def _unit_t(rng: np.random.Generator, n: int) -> np.ndarray:
    """Student-t shocks scaled to unit variance, clipped. One 1-D draw, so any longer draw from
    the same seed starts with the same values (the horizon can grow without changing the past)."""
    draws = rng.standard_t(_T_DF, size=n) * np.sqrt((_T_DF - 2.0) / _T_DF)
    return np.clip(draws, -_SHOCK_CLIP, _SHOCK_CLIP)


def _round_prices(values: np.ndarray) -> np.ndarray:
    # Cents like a real tape; sub-dollar prices keep 4 decimals. Rounding is monotone, so the
    # OHLC ordering survives it.
    return np.where(values >= 1.0, np.round(values, 2), np.round(values, 4))


class SampleProvider:
    """Synthetic OHLCV and shares outstanding for a universe; see the module docstring."""

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
        self._series_cache: dict[str, _Series] = {}
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
            series = self._series(symbol)
            window = series.present[i0:i1]
            if window.all():
                idx = np.arange(i0, i1)
                blocks.append(series.ohlcv[:, i0:i1])
            else:
                idx = np.flatnonzero(window) + i0
                blocks.append(series.ohlcv[:, idx])
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

    def fault_events(self, start: dt.date | str | None = None, end: dt.date | str | None = None) -> pd.DataFrame:
        """Concrete fault events in ``[start, end]`` for the symbols of this universe.

        Columns: symbol, fault, date (NaT for 'no_shares', which has no date), detail.
        """
        lo = self._sessions[0] if start is None else pd.Timestamp(start)
        hi = self._sessions[-1] if end is None else pd.Timestamp(end)
        events: list[tuple[str, str, pd.Timestamp, str]] = []
        f = self.faults
        sess = self._sessions

        def active(symbol: str | None) -> bool:
            return symbol is not None and symbol in self._universe.index

        if active(f.missing_days_symbol):
            for i in self._missing_day_idx():
                events.append((f.missing_days_symbol, "missing_day", sess[i], "no row"))
        if active(f.split_symbol):
            ratio = f"{f.split_ratio:g}"
            for i in self._yearly_idx(f.split_day):
                events.append((f.split_symbol, "split", sess[i], f"{ratio}:1 forward split"))
            for i in self._yearly_idx(f.reverse_split_day):
                events.append((f.split_symbol, "reverse_split", sess[i], f"1:{ratio} reverse split"))
        if active(f.bad_print_symbol):
            for i in self._yearly_idx(f.bad_print_day):
                detail = f"close x{f.bad_print_factor:g}, high/low unchanged"
                events.append((f.bad_print_symbol, "bad_print", sess[i], detail))
        if active(f.halt_symbol):
            for first in self._yearly_idx(f.halt_day):
                for k in range(f.halt_sessions):
                    if first + k < self._n:
                        detail = f"halted session {k + 1} of {f.halt_sessions}"
                        events.append((f.halt_symbol, "halt", sess[first + k], detail))
                resume = first + f.halt_sessions
                if resume < self._n:
                    detail = f"resumes with a {self._halt_gap_for(sess[resume].year):+.1%} gap"
                    events.append((f.halt_symbol, "halt_resume", sess[resume], detail))
        if active(f.listed_symbol):
            i = self._listing_idx()
            if i < self._n:
                events.append((f.listed_symbol, "listing", sess[i], "no rows before"))
        if active(f.delisted_symbol):
            i = self._delisting_idx()
            if i >= 0:
                events.append((f.delisted_symbol, "delisting", sess[i], "no rows after"))
        out = pd.DataFrame(events, columns=["symbol", "fault", "date", "detail"])
        out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]")
        out = out.loc[(out["date"] >= lo) & (out["date"] <= hi)]
        if active(f.no_shares_symbol):
            no_shares = {"symbol": [f.no_shares_symbol], "fault": ["no_shares"], "date": [pd.NaT], "detail": ["no rows"]}
            out = pd.concat([out, pd.DataFrame(no_shares)], ignore_index=True)
            out["date"] = out["date"].astype("datetime64[ns]")
        return out.sort_values(["date", "symbol", "fault"], na_position="last", kind="stable").reset_index(drop=True)

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

    def _series(self, symbol: str) -> _Series:
        cached = self._series_cache.get(symbol)
        if cached is not None:
            return cached
        n, f = self._n, self.faults
        p = self._params(symbol)
        sector = self._universe.at[symbol, "sector"]
        r = (
            p["drift"]
            + p["beta"] * (_MARKET_VOL / np.sqrt(_TRADING_DAYS)) * self._factor("market")
            + p["gamma"] * (_SECTOR_VOL / np.sqrt(_TRADING_DAYS)) * self._factor("sector", sector)
            + p["idio"] * _unit_t(_rng(self.seed, "idio", symbol), n)
        )
        r = np.clip(r, -_RETURN_CLIP, _RETURN_CLIP)
        present = np.ones(n, dtype=bool)
        jump = np.zeros(n)
        if symbol == f.halt_symbol:
            for first in self._yearly_idx(f.halt_day):
                present[first : first + f.halt_sessions] = False
                resume = first + f.halt_sessions
                if resume < n:
                    jump[resume] = np.log1p(self._halt_gap_for(self._sessions[resume].year))
        log_close = np.cumsum(r + jump)
        log_close += np.log(p["anchor_price"]) - log_close[self._anchor_idx]
        close = np.exp(log_close)
        prev_close = np.concatenate(([close[0] * np.exp(-r[0])], close[:-1]))

        # A (n, 4) draw is row-major, so its first rows do not depend on n either.
        # float32 is plenty for bar noise and halves the cost of the largest draw.
        z = _rng(self.seed, "bars", symbol).standard_normal((n, 4), dtype=np.float32).astype(np.float64)
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
            factor = self._split_factor()
            ohlcv[:4] /= factor
            ohlcv[4] = np.round(ohlcv[4] * factor)
        ohlcv[:4] = _round_prices(ohlcv[:4])
        if symbol == f.bad_print_symbol:
            idx = self._yearly_idx(f.bad_print_day)
            ohlcv[3, idx] = _round_prices(ohlcv[3, idx] * f.bad_print_factor)
        if symbol == f.missing_days_symbol:
            present[self._missing_day_idx()] = False
        if symbol == f.listed_symbol:
            present[: self._listing_idx()] = False
        if symbol == f.delisted_symbol:
            present[self._delisting_idx() + 1 :] = False
        series = _Series(ohlcv=ohlcv, present=present)
        self._series_cache[symbol] = series
        return series

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

    # ------------------------------------------------------------------ fault calendar

    def _yearly_idx(self, month_day: str) -> np.ndarray:
        """Index of the first session on or after ``month_day`` in every year of the calendar."""
        cached = self._yearly_cache.get(month_day)
        if cached is None:
            month, day = _parse_month_day(month_day)
            years = range(self._sessions[0].year, self._sessions[-1].year + 1)
            targets = pd.DatetimeIndex([_safe_date(y, month, day) for y in years])
            idx = self._sessions.searchsorted(targets, side="left")
            cached = np.unique(idx[idx < self._n])
            cached.flags.writeable = False  # shared by every caller
            self._yearly_cache[month_day] = cached
        return cached

    def _missing_day_idx(self) -> np.ndarray:
        return np.unique(np.concatenate([self._yearly_idx(md) for md in self.faults.missing_days]))

    def _split_factor(self) -> np.ndarray:
        """Price divisor per session: ``split_ratio`` between a forward split and the reverse."""
        f = self.faults
        marks = np.zeros(self._n + 1)
        np.add.at(marks, self._yearly_idx(f.split_day), 1.0)
        np.add.at(marks, self._yearly_idx(f.reverse_split_day), -1.0)
        return np.power(f.split_ratio, np.cumsum(marks[: self._n]))

    def _halt_gap_for(self, year: int) -> float:
        g = self.faults.halt_gap
        return g if year % 2 == 0 else 1.0 / (1.0 + g) - 1.0

    def _listing_idx(self) -> int:
        return int(self._sessions.searchsorted(pd.Timestamp(self.faults.listing_date), side="left"))

    def _delisting_idx(self) -> int:
        return int(self._sessions.searchsorted(pd.Timestamp(self.faults.delisting_date), side="right") - 1)


def _safe_date(year: int, month: int, day: int) -> pd.Timestamp:
    # 02-29 in a non-leap year falls to 03-01: "on or after" still means something.
    try:
        return pd.Timestamp(year, month, day)
    except ValueError:
        return pd.Timestamp(year, month, day - 1) + pd.Timedelta(days=1)

