"""The sleeves (methodology section 5): each is one function from the signals at the rebalance
dates to weights over the eligible set, registered under its name with the strategy parameter
that weights it in the blend (section 6).

``strategy.target_weights`` blends every registered sleeve in registration order, and the
warehouse stores each sleeve's contribution as a row (``allocation_sleeves``), so a new sleeve
is a function here plus its weight parameter in ``params.StrategyParams``.

Arrays are (dates x assets). A sleeve's row sums to 1 over the assets it weighs, or is all zero
(an empty sleeve: the blend then renormalises over the others).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Signals:
    """What the sleeves read at each rebalance date D (``strategy.target_weights`` computes them)."""

    eligible: np.ndarray
    """The eligible set E (section 4), boolean."""
    momentum_score: np.ndarray
    """Trailing ``prod(1 + r) - 1`` over ``momentum_lookback`` sessions."""
    volatility: np.ndarray
    """Daily sample standard deviation (ddof=1) over ``vol_lookback`` sessions."""
    market_cap: np.ndarray
    """Point-in-time shares times the cleaned close; NaN without shares."""


@dataclass(frozen=True)
class Sleeve:
    name: str
    weight_param: str
    """The ``StrategyParams`` field that weights this sleeve in the blend."""
    signal: str
    """The ``Signals`` field this sleeve ranks on, stored beside its weights."""
    weights: Callable[[Signals], np.ndarray]

    @property
    def contribution_column(self) -> str:
        """``target_weights`` column: the sleeve's share of the final weight."""
        return f"{self.name}_weight"

    @property
    def sleeve_column(self) -> str:
        """``target_weights`` column: the raw sleeve weight (0 outside the sleeve)."""
        return f"{self.name}_sleeve"


SLEEVES: dict[str, Sleeve] = {}
"""Every sleeve by name, in blend order."""


def sleeve(name: str, weight_param: str, signal: str) -> Callable[[Callable[[Signals], np.ndarray]], Callable[[Signals], np.ndarray]]:
    """Register the decorated function as the sleeve ``name``."""

    def register(weights: Callable[[Signals], np.ndarray]) -> Callable[[Signals], np.ndarray]:
        if name in SLEEVES:
            raise ValueError(f"sleeve {name!r} is registered twice")
        if signal not in Signals.__dataclass_fields__:
            raise ValueError(f"sleeve {name!r} reads an unknown signal {signal!r}")
        SLEEVES[name] = Sleeve(name, weight_param, signal, weights)
        return weights

    return register


def normalise_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows divided by their sum; an all-zero row stays zero. Returns (normalised, non-empty)."""
    total = x.sum(axis=1)
    nonempty = total > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(nonempty[:, None], x / total[:, None], 0.0)
    return out, nonempty


@sleeve("momentum", weight_param="momentum_weight", signal="momentum_score")
def momentum_sleeve(signals: Signals) -> np.ndarray:
    """``max(m, 0) / sum max(m, 0)`` over E; equal weight over E when no asset has positive
    momentum; empty (all zero) when E is empty."""
    eligible = signals.eligible
    positive = np.where(eligible & (signals.momentum_score > 0), signals.momentum_score, 0.0)
    weights, nonempty = normalise_rows(positive)
    size = eligible.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        equal = np.where(eligible, 1.0 / size[:, None], 0.0)
    return np.where(nonempty[:, None], weights, np.where(size[:, None] > 0, equal, 0.0))


@sleeve("market_cap", weight_param="market_cap_weight", signal="market_cap")
def market_cap_sleeve(signals: Signals) -> np.ndarray:
    """``MC / sum MC`` over eligible assets with a known (finite, > 0) market cap; empty when
    none is known."""
    market_cap = signals.market_cap
    known = signals.eligible & np.isfinite(market_cap) & (market_cap > 0)
    return normalise_rows(np.where(known, market_cap, 0.0))[0]


@sleeve("risk_parity", weight_param="risk_parity_weight", signal="volatility")
def risk_parity_sleeve(signals: Signals) -> np.ndarray:
    """``(1/s) / sum (1/s)`` over eligible assets with ``s > 0`` (a zero or undefined
    volatility leaves the asset out of this sleeve only)."""
    volatility = signals.volatility
    usable = signals.eligible & np.isfinite(volatility) & (volatility > 0)
    with np.errstate(divide="ignore"):
        inverse = np.where(usable, 1.0 / np.where(usable, volatility, 1.0), 0.0)
    return normalise_rows(inverse)[0]


SLEEVE_ROW_COLUMNS = ("date", "symbol", "sleeve", "contribution", "sleeve_weight", "signal")


def sleeve_rows(targets: pd.DataFrame) -> pd.DataFrame:
    """``strategy.target_weights`` in long form, one row per (date, symbol, sleeve) of every registered
    sleeve: its contribution to the weight, its raw sleeve weight and the signal it ranks on
    (what ``allocation_sleeves`` stores, so a new sleeve needs no new column)."""
    parts = [
        pd.DataFrame({
            "date": targets["date"].to_numpy(),
            "symbol": targets["symbol"].to_numpy(),
            "sleeve": s.name,
            "contribution": targets[s.contribution_column].to_numpy(dtype=float),
            "sleeve_weight": targets[s.sleeve_column].to_numpy(dtype=float),
            "signal": targets[s.signal].to_numpy(dtype=float),
        })
        for s in SLEEVES.values()
    ]
    out = pd.concat(parts, ignore_index=True) if len(targets) else pd.DataFrame(columns=list(SLEEVE_ROW_COLUMNS))
    return out.sort_values(["date", "symbol", "sleeve"], ignore_index=True)
