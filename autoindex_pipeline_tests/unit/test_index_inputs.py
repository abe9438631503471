"""The index engine's inputs in any shape pandas hands them: the same numbers whatever the order
of the target rows, the memory layout of the returns frame, or extra and missing columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.domain.index import compute_index, start_of_day_holdings

SESSIONS = sessions_between("2024-01-02", "2024-06-28")
SYMBOLS = ["A", "B", "C", "D", "E"]


def _inputs(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    returns = pd.DataFrame(rng.normal(0.0005, 0.02, (len(SESSIONS), len(SYMBOLS))), index=SESSIONS, columns=SYMBOLS)
    returns = returns.mask(rng.random(returns.shape) < 0.05)
    rows = []
    for day in SESSIONS[::5]:
        chosen = [s for s in SYMBOLS if rng.random() < 0.8] or ["A"]
        weights = rng.random(len(chosen))
        rows += [(day, s, w / weights.sum()) for s, w in zip(chosen, weights, strict=True)]
    return returns, pd.DataFrame(rows, columns=["date", "symbol", "weight"])


def _same(a: tuple[pd.DataFrame, object], b: tuple[pd.DataFrame, object]) -> None:
    pd.testing.assert_frame_equal(a[0], b[0], check_exact=True)
    assert a[1].to_dict() == b[1].to_dict()


@pytest.mark.parametrize("bps", [0.0, 10.0])
def test_shuffled_target_rows_give_the_same_index(bps: float) -> None:
    returns, targets = _inputs()
    base = targets["date"].min()
    _same(compute_index(returns, targets, base, bps), compute_index(returns, targets.sample(frac=1, random_state=1), base, bps))


def test_the_returns_frame_layout_and_an_extra_column_do_not_change_the_numbers() -> None:
    returns, targets = _inputs()
    base = targets["date"].min()
    plain = compute_index(returns, targets, base, 10.0)
    # A frame of several blocks (its values come back Fortran-ordered) with an unrelated column.
    split = pd.concat([returns[["A", "B"]], returns[["C", "D", "E"]]], axis=1)
    split["SPY"] = 0.01
    assert split.to_numpy().flags["F_CONTIGUOUS"]
    _same(plain, compute_index(split, targets, base, 10.0))
    _same(plain, compute_index(split[["SPY", *SYMBOLS[::-1]]], targets, base, 10.0))


def test_a_target_symbol_without_returns_is_held_at_a_zero_return() -> None:
    returns, targets = _inputs()
    base = targets["date"].min()
    with_zero = returns.assign(E=np.nan)
    _same(compute_index(with_zero, targets, base, 10.0), compute_index(returns.drop(columns="E"), targets, base, 10.0))


def test_target_rows_dated_off_the_sessions_are_ignored() -> None:
    returns, targets = _inputs()
    base = targets["date"].min()
    saturday = pd.DataFrame({"date": [pd.Timestamp("2024-03-09")], "symbol": ["A"], "weight": [1.0]})
    _same(compute_index(returns, targets, base), compute_index(returns, pd.concat([targets, saturday]), base))
    rows, end = start_of_day_holdings(returns, targets, base, SESSIONS[60])
    rows2, end2 = start_of_day_holdings(returns, pd.concat([saturday, targets]), base, SESSIONS[60])
    pd.testing.assert_frame_equal(rows, rows2, check_exact=True)
    pd.testing.assert_series_equal(end, end2, check_exact=True)


def _per_period_levels(returns: pd.DataFrame, targets: pd.DataFrame, base: pd.Timestamp, bps: float) -> np.ndarray:
    """The levels as the module doc defines them, one holding period at a time: ``G`` row by row
    (``1 + r``, NaN as 0, an infinite return as the largest float), ``I_start * (G @ h)`` one
    matrix-vector product per period, then the cost of the rebalance that ends it."""
    symbols = sorted(set(targets["symbol"]))
    wide = targets.pivot(index="date", columns="symbol", values="weight").reindex(columns=symbols).fillna(0.0)
    after = returns.loc[returns.index > base].reindex(columns=symbols)
    growth = np.nan_to_num(1.0 + after.to_numpy(dtype=float), nan=1.0)
    ends = [after.index.get_loc(d) for d in wide.index if d > base]
    if not ends or ends[-1] != len(after) - 1:
        ends.append(len(after) - 1)
    level, held, lo = 100.0, wide.loc[base].to_numpy(), 0
    levels = [level]
    for hi in ends:
        g = growth[lo : hi + 1].copy()
        for t in range(1, len(g)):
            g[t] = g[t - 1] * g[t]
        value = g @ held
        period = level * value
        level = level * value[-1]
        if after.index[hi] in wide.index:
            target = wide.loc[after.index[hi]].to_numpy()
            paid = bps / 1e4 * np.abs(target - g[-1] * held / value[-1]).sum()
            period[-1] *= 1.0 - paid
            level = level * (1.0 - paid)
            held = target
        levels += period.tolist()
        lo = hi + 1
    return np.array(levels)


@pytest.mark.parametrize("bps", [0.0, 10.0])
def test_runs_of_equal_periods_and_missing_returns_give_the_per_period_numbers_bit_for_bit(bps: float) -> None:
    # Weekly-like periods of 5 sessions broken by 4- and 3-session ones (the engine drifts each run
    # of equal periods in one go), missing returns in some of them (those periods are drifted again
    # from cleaned returns).
    returns, _ = _inputs(seed=5)
    assert returns.isna().to_numpy().any()
    rng = np.random.default_rng(5)
    lengths = [5, 5, 5, 4, 5, 5, 3, 3, 5, 4, 4, 5, 5, 5, 5, 1, 5]
    dates = SESSIONS[np.cumsum([0, *lengths])]
    rows = []
    for day in dates:
        chosen = [s for s in SYMBOLS if rng.random() < 0.8] or ["A"]
        weights = rng.random(len(chosen))
        rows += [(day, s, w / weights.sum()) for s, w in zip(chosen, weights, strict=True)]
    targets = pd.DataFrame(rows, columns=["date", "symbol", "weight"])
    daily, _ = compute_index(returns, targets, dates[0], bps)
    assert daily["level"].isna().sum() == 0
    np.testing.assert_array_equal(daily["level"].to_numpy(), _per_period_levels(returns, targets, dates[0], bps))


def test_returns_with_gaps_are_drifted_once_from_the_first_run_that_has_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # A symbol listed late leaves a missing return in nearly every period: the periods from its
    # run on are drifted from cleaned returns at once, not once raw and again cleaned (which
    # made data with gaps 1.7x slower than clean data on 10 y x 500).
    from autoindex_pipeline.domain import index

    returns, _ = _inputs(seed=5)
    returns = returns.copy()
    returns.iloc[: len(returns) // 2, 0] = np.nan
    lengths = [5] * 8 + [4] + [5] * 8
    dates = SESSIONS[np.cumsum([0, *lengths])]
    targets = pd.DataFrame([(day, s, 1 / len(SYMBOLS)) for day in dates for s in SYMBOLS],
                           columns=["date", "symbol", "weight"])
    filled = []
    original = index._Growth.fill

    def counting_fill(self, lo, hi, out, clean=False):
        filled.append((lo, hi, clean))
        return original(self, lo, hi, out, clean)

    monkeypatch.setattr(index._Growth, "fill", counting_fill)
    daily, _ = compute_index(returns, targets, dates[0], 10.0)
    sessions = sum(hi - lo for lo, hi, _ in filled)
    # Four runs (the first period, 7 of five sessions, 1 of four, 8 of five and the tail); the
    # first run has the gap, so it alone is filled twice.
    assert sessions <= len(daily) + lengths[0], filled
    assert all(clean for _, _, clean in filled[1:]), filled
    np.testing.assert_array_equal(daily["level"].to_numpy(), _per_period_levels(returns, targets, dates[0], 10.0))
