"""The validation rate: rows passing every blocking rule / rows checked (the market-data
system's "> 95 %" health figure), per run and per session.

Per run: of the rows a prices run delivered (and checked before writing), the share no blocking
check refused.

Per session, over the quality report's window: every (symbol, session) the warehouse holds a
row for or has an open refusal of is one checked row. It passes when its stored row fails no
blocking check now (an ``accept`` override counts as a pass: the rule's verdict was reviewed)
and no delivery of it waits refused (an open verdict). A refusal settled later (a corrected
re-fetch, an override) stops counting against its session, so a day heals once it is handled,
and what is still failing is what the figure shows.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from autoindex_pipeline.domain.quality.outcome import CheckOutcome
from autoindex_pipeline.domain.quality.rules import ERROR, RULES, rule

DAILY_COLUMNS = ["date", "checked", "passed", "rate"]
MIN_VALIDATION_RATE = 0.95


def run_validation_rate(delivered: int, refused: int) -> float | None:
    """Share of a run's delivered rows that no blocking check refused; None when it delivered
    nothing (no rate, rather than a perfect one)."""
    if delivered <= 0:
        return None
    return (delivered - refused) / delivered


def _keys(frame: pd.DataFrame) -> pd.DataFrame:
    if frame is None or frame.empty:
        return pd.DataFrame({"symbol": pd.Series(dtype=str), "date": pd.Series(dtype="datetime64[ns]")})
    return pd.DataFrame({"symbol": frame["symbol"].astype(str).to_numpy(),
                         "date": pd.to_datetime(frame["date"]).dt.normalize().to_numpy()}).drop_duplicates()


def daily_validation(stored: pd.DataFrame, outcomes: Iterable[CheckOutcome], open_refusals: pd.DataFrame | None,
                     sessions: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    """Per session: checked rows, passed rows, their ratio (``date, checked, passed, rate``).
    ``stored``: the window's stored rows (symbol, date); ``outcomes``: the checks evaluated on
    them; ``open_refusals``: open blocking verdicts (symbol, date). ``sessions`` adds the
    sessions with nothing checked (rate NaN)."""
    held = _keys(stored)
    failing = [_keys(open_refusals)]
    for o in outcomes:
        if o.passed or o.offending.empty or o.name not in _blocking_names():
            continue
        off = o.offending
        rows = off[off["severity"] == ERROR] if "severity" in off.columns else off
        rows = rows[rows["symbol"].notna() & rows["date"].notna()]
        failing.append(_keys(rows))
    bad = pd.concat(failing, ignore_index=True).drop_duplicates()
    checked = pd.concat([held, bad], ignore_index=True).drop_duplicates()
    marked = checked.merge(bad.assign(_bad=True), on=["symbol", "date"], how="left")
    marked["_bad"] = marked["_bad"].fillna(False).astype(bool)
    per_day = marked.groupby("date").agg(checked=("symbol", "size"), failed=("_bad", "sum"))
    if sessions is not None:
        per_day = per_day.reindex(pd.DatetimeIndex(pd.to_datetime(sessions)).normalize().union(per_day.index), fill_value=0)
    per_day["passed"] = per_day["checked"] - per_day["failed"]
    per_day["rate"] = per_day["passed"] / per_day["checked"].where(per_day["checked"] > 0)
    out = per_day.reset_index().rename(columns={"index": "date"})
    return out.loc[:, DAILY_COLUMNS].sort_values("date", ignore_index=True)


def _blocking_names() -> set[str]:
    return {r.name for r in RULES if r.blocking and r.asset == "prices"}


def window_rate(daily: pd.DataFrame) -> float | None:
    checked = int(daily["checked"].sum()) if len(daily) else 0
    return None if checked == 0 else float(daily["passed"].sum()) / checked


def check_validation_rate(daily: pd.DataFrame, threshold: float = MIN_VALIDATION_RATE) -> CheckOutcome:
    """Every session of the window must validate at ``threshold`` or better: a session below it
    is an offending row (symbol ``*``: the whole session); observed is the window's rate."""
    spec = rule("validation_rate")
    scored = daily[daily["checked"] > 0]
    low = scored[scored["rate"] < threshold]
    offending = pd.DataFrame({
        "symbol": "*",
        "date": pd.to_datetime(low["date"]).to_numpy(),
        "value": low["rate"].astype(float).to_numpy(),
        "reason": [f"{p} of {c} rows pass every blocking rule ({r:.1%} < {threshold:.0%})"
                   for p, c, r in zip(low["passed"], low["checked"], low["rate"], strict=True)],
        "severity": spec.severity,
    })
    rate = window_rate(scored)
    return CheckOutcome(
        name=spec.name,
        passed=offending.empty,
        severity=spec.severity,
        observed=float("nan") if rate is None else rate,
        threshold=threshold,
        description=spec.description,
        offending=offending,
        per_symbol_pass_rate=pd.Series(dtype=float),
        evaluated=int(len(scored)),
        scope="table",
        details={"daily": daily},
    )
