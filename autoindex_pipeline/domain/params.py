"""Strategy parameters (methodology sections 3-9): one frozen value, validated on construction.

Plain stdlib so the methodology can be imported and tested without the configuration stack;
``config`` validates the YAML mapping into this same class (pydantic handles stdlib dataclasses),
and ``__pydantic_config__`` makes an unknown key an error there, as for every other model.

The bound messages copy pydantic's wording on purpose: the configuration loader reports them
under the offending key, and users (and tests) already know those messages.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
from typing import Literal

from autoindex_pipeline.domain.sleeves import SLEEVES

Frequency = Literal["daily", "weekly", "monthly", "quarterly"]
FREQUENCIES: tuple[str, ...] = ("daily", "weekly", "monthly", "quarterly")


class StrategyParamsError(ValueError):
    """Invalid parameters. ``errors`` lists ``(key, message)``; ``key`` is None for a rule
    across keys."""

    def __init__(self, errors: list[tuple[str | None, str]]):
        self.errors = errors
        super().__init__("; ".join(msg if key is None else f"{key}: {msg}" for key, msg in errors))


@dataclasses.dataclass(frozen=True)
class StrategyParams:
    """One named strategy; the defaults are the methodology's (docs/methodology.md)."""

    __pydantic_config__ = {"extra": "forbid"}

    momentum_weight: float = 0.4
    market_cap_weight: float = 0.3
    risk_parity_weight: float = 0.3
    rebalance_frequency: Frequency = "weekly"
    start_date: dt.date | None = None
    min_price_threshold: float = 1.0
    min_history: int = 20
    momentum_lookback: int = 20
    vol_lookback: int = 60
    max_forward_fill_days: int = 2
    min_daily_return: float = -0.5
    max_daily_return: float = 0.5
    max_asset_weight: float | None = None
    transaction_cost_bps: float = 0.0
    risk_free_rate: float = 0.05
    sentiment_tilt: float = 0.0
    sentiment_window_days: int = 7
    daily_drop_threshold: float = -0.01

    def __post_init__(self) -> None:
        errors = _coerce_types(self)
        if not errors:
            errors = [(key, msg) for key, check in _BOUNDS for msg in [check(getattr(self, key))] if msg]
        if not errors:
            errors = _cross_key_errors(self)
        if errors:
            raise StrategyParamsError(errors)

    def canonical_json(self) -> str:
        """Every parameter, defaults included, in a stable order: what the version hashes.

        Byte for byte what the pydantic model that preceded this class produced (floats as
        floats, dates as ISO strings), because stored versions are these hashes."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["start_date"] = None if self.start_date is None else self.start_date.isoformat()
        return json.dumps(values, sort_keys=True, separators=(",", ":"))

    @property
    def version(self) -> str:
        """Content hash of the parameters: a changed config is a new version beside the old
        rows, never a silent rewrite of history."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:12]


# --------------------------------------------------------------------------------------------
# Validation


def _ge(bound: float):
    return lambda v: None if v >= bound else f"Input should be greater than or equal to {bound}"


def _gt(bound: float):
    return lambda v: None if v > bound else f"Input should be greater than {bound}"


def _le(bound: float):
    return lambda v: None if v <= bound else f"Input should be less than or equal to {bound}"


def _lt(bound: float):
    return lambda v: None if v < bound else f"Input should be less than {bound}"


def _optional(check):
    return lambda v: None if v is None else check(v)


def _both(first, second):
    return lambda v: first(v) or second(v)


SLEEVE_WEIGHT_PARAMS = tuple(s.weight_param for s in SLEEVES.values())
"""The parameters that weight the sleeves in the blend, in blend order."""

_BOUNDS = (
    *((param, _ge(0)) for param in SLEEVE_WEIGHT_PARAMS),
    ("min_price_threshold", _ge(0)),
    ("min_history", _gt(0)),
    ("momentum_lookback", _gt(0)),
    ("vol_lookback", _gt(0)),
    ("max_forward_fill_days", _ge(0)),
    ("min_daily_return", _both(_gt(-1), _le(0))),
    ("max_daily_return", _ge(0)),
    ("max_asset_weight", _optional(_both(_gt(0), _le(1)))),
    ("transaction_cost_bps", _ge(0)),
    ("sentiment_tilt", _both(_ge(-1), _le(1))),
    ("sentiment_window_days", _gt(0)),
    ("daily_drop_threshold", _lt(0)),
)

_FLOATS = (
    *SLEEVE_WEIGHT_PARAMS, "min_price_threshold", "min_daily_return",
    "max_daily_return", "max_asset_weight", "transaction_cost_bps", "risk_free_rate", "sentiment_tilt",
    "daily_drop_threshold",
)
_INTS = ("min_history", "momentum_lookback", "vol_lookback", "max_forward_fill_days", "sentiment_window_days")


def _coerce_types(params: StrategyParams) -> list[tuple[str | None, str]]:
    """Normalise what a direct caller passed the way the configuration loader does (an int
    weight is stored as a float, an ISO string as a date), so both hash alike."""
    errors: list[tuple[str | None, str]] = []

    def put(key: str, value: object) -> None:
        object.__setattr__(params, key, value)

    for key in _FLOATS:
        value = getattr(params, key)
        if value is None and key == "max_asset_weight":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errors.append((key, "Input should be a valid number"))
        else:
            put(key, float(value))
    for key in _INTS:
        value = getattr(params, key)
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append((key, "Input should be a valid integer"))
        else:
            put(key, int(value))
    if params.rebalance_frequency not in FREQUENCIES:
        expected = ", ".join(f"'{f}'" for f in FREQUENCIES[:-1]) + f" or '{FREQUENCIES[-1]}'"
        errors.append(("rebalance_frequency", f"Input should be {expected}"))
    start = params.start_date
    if isinstance(start, str):
        try:
            put("start_date", dt.date.fromisoformat(start))
        except ValueError:
            errors.append(("start_date", "Input should be a valid date"))
    elif isinstance(start, dt.datetime):
        if start.time() != dt.time(0):
            errors.append(("start_date", "Datetimes provided to dates should have zero time"))
        else:
            put("start_date", start.date())
    elif start is not None and not isinstance(start, dt.date):
        errors.append(("start_date", "Input should be a valid date"))
    return errors


def _cross_key_errors(params: StrategyParams) -> list[tuple[str | None, str]]:
    if sum(getattr(params, param) for param in SLEEVE_WEIGHT_PARAMS) <= 0:
        return [(None, f"{' + '.join(SLEEVE_WEIGHT_PARAMS)} must be > 0")]
    if params.min_history > params.vol_lookback:
        return [(
            None,
            f"min_history ({params.min_history}) must be <= vol_lookback ({params.vol_lookback}): "
            "no asset could ever be eligible",
        )]
    return []


_missing = [param for param in SLEEVE_WEIGHT_PARAMS if param not in StrategyParams.__dataclass_fields__]
if _missing:
    raise TypeError(f"sleeve weight parameter(s) {_missing} are not fields of StrategyParams")
