"""The quality report: a self-contained HTML page (``templates/quality.html.j2``) and a Markdown
summary.

HTML (:func:`render_html`): one file, pictures as inline base64 PNGs (:mod:`.charts`), no
script and no external asset, so it opens anywhere and can be attached to an e-mail or stored
as an artifact. Built for ~500 symbols:

1. the verdict: portfolio score against the gate, how many symbols are green / yellow / red;
2. the trend (status score per period, symbols with errors);
3. the worst ``worst_n`` symbols in detail: a labelled grid (symbol x session, or week / month
   when long) and their scores per check;
4. the whole universe compactly: one thin row per symbol, worst first, so problems sit at the
   top and the rest is a green block a person takes in at a glance;
5. every failed check with a bounded sample of its offending rows; the passed checks in a line.

Markdown (:func:`render_markdown`): the summary for the Dagster UI - score, gate, red symbols,
failed checks with a few offending rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from autoindex_pipeline.domain.quality import (
    CELL_ERROR,
    CELL_OK,
    ERROR,
    GREEN_ABOVE,
    MIN_PORTFOLIO_SCORE,
    RED_BELOW,
    SAMPLE_ROWS,
    CheckOutcome,
    _records,
)
from autoindex_pipeline.domain.quality import portfolio_score as _portfolio_score
from autoindex_pipeline.reporting import Cell, render_template
from autoindex_pipeline.reporting.charts import QUALITY_COLOURS as COLOURS
from autoindex_pipeline.reporting.charts import grid_png, quality_bands, trend_png
from autoindex_pipeline.reporting.markdown import frame_to_markdown

_GRID_UNIT = {None: "session", "W": "week", "M": "month"}


def auto_freq(n_sessions: int) -> str | None:
    """Grid granularity: sessions up to ~6 months, weeks up to ~3 years, months beyond."""
    if n_sessions <= 130:
        return None
    if n_sessions <= 760:
        return "W"
    return "M"


def order_worst_first(grid: pd.DataFrame, scores: pd.DataFrame | None = None) -> list[str]:
    """Symbols ordered worst first: red, yellow, then green scores; within a colour, most error
    cells first, then the lower score, then most warning cells."""
    values = grid.to_numpy()
    names = np.asarray(grid.columns, dtype=object)
    errors = (values == CELL_ERROR).sum(axis=0)
    warns = ((values < CELL_OK) & (values > CELL_ERROR)).sum(axis=0)
    score = np.full(len(names), np.nan)
    if scores is not None and len(scores):
        score = scores.set_index("symbol")["score"].reindex(pd.Index(names, dtype=object)).to_numpy(dtype=float)
    band = quality_bands(score)  # 0 red, 1 yellow, 2 green, 3 unscored
    frame = pd.DataFrame({"band": band, "errors": -errors, "score": np.nan_to_num(score, nan=2.0), "warns": -warns, "name": names})
    return frame.sort_values(["band", "errors", "score", "warns", "name"], kind="stable")["name"].tolist()


# --------------------------------------------------------------------------------------------
# HTML


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return ""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if np.isnan(v):
        return ""
    return f"{v:.{digits}f}" if not v.is_integer() or abs(v) < 1 else f"{int(v)}"


def _cell(column: str, value: Any, colour: str | None) -> Cell:
    if column == "symbol" and colour is not None:
        return Cell(str(value), dot=COLOURS.get(colour, "#999"))
    if isinstance(value, float):
        return Cell(_num(value), "num")
    if isinstance(value, int) and not isinstance(value, bool):
        return Cell(str(value), "num")
    text = "" if value is None else str(value)
    return Cell(text, f"sev-{text}" if column == "severity" else "")


def _table(frame: pd.DataFrame, colour_col: str | None = None) -> dict[str, Any] | None:
    """Headers and cells of a frame (the colour column becomes a dot before the symbol)."""
    if frame.empty:
        return None
    shown = [c for c in frame.columns if c != colour_col]
    rows = [[_cell(c, row[c], row[colour_col] if colour_col else None) for c in shown] for row in _records(frame)]
    return {"headers": shown, "rows": rows}


def _check_section(o: CheckOutcome, sample: int) -> dict[str, Any]:
    rows = o.offending_sample(sample)
    return {
        "severity": o.severity,
        "name": o.name,
        "offending": o.offending_count,
        "evaluated": o.evaluated,
        "description": o.description,
        "observed": _num(o.observed, 6),
        "threshold": _num(o.threshold, 6) if o.threshold is not None else None,
        "table": _table(rows),
        "shown": len(rows) if o.offending_count > len(rows) else None,
    }


def _worst_detail(scores: pd.DataFrame, worst: list[str]) -> dict[str, Any] | None:
    detail = scores[scores["symbol"].isin(worst)].copy() if len(scores) else pd.DataFrame()
    if not len(detail):
        return None
    check_cols = [c for c in detail.columns if c not in ("symbol", "score", "colour", "checks", "worst_check", "worst_rate")]
    detail = detail.set_index("symbol").reindex([s for s in worst if s in set(detail["symbol"])]).reset_index()
    return _table(detail.loc[:, ["symbol", "colour", "score", "worst_check", "worst_rate", *check_cols]], colour_col="colour")


def _grids(daily_grid: pd.DataFrame, scores: pd.DataFrame, order: list[str], worst_n: int, grid_freq: str | None) -> dict[str, Any] | None:
    worst = order[:worst_n]
    if not worst:
        return None
    # The whole universe is one row per symbol: a long window is shown by month to stay legible.
    all_freq = "M" if grid_freq in (None, "W") and len(daily_grid.index) > 130 else grid_freq
    title = "worst symbols, worst cell per " + _GRID_UNIT.get(grid_freq, str(grid_freq))
    return {
        "n_worst": len(worst),
        "worst_img": grid_png(daily_grid, worst, freq=grid_freq, title=title),
        "detail": _worst_detail(scores, worst),
        "n_all": len(order),
        "all_img": grid_png(daily_grid, order, freq=all_freq, label_rows=len(order) <= 80, title="every symbol, one row each"),
    }


def render_html(
    scores: pd.DataFrame,
    daily_grid: pd.DataFrame,
    outcomes: Iterable[CheckOutcome],
    trend: pd.DataFrame | None,
    title: str = "AutoIndex data quality",
    *,
    portfolio_score: float | None = None,
    min_score: float = MIN_PORTFOLIO_SCORE,
    worst_n: int = 30,
    sample: int = SAMPLE_ROWS,
    freq: str | None | bool = True,
    subtitle: str = "",
    validation: pd.DataFrame | None = None,
    min_validation_rate: float = 0.95,
    trend_image: str | None = None,
) -> str:
    """The quality report as one self-contained HTML page (see the module doc).

    ``scores``: :func:`~autoindex_pipeline.domain.quality.quality_scores`; ``daily_grid``:
    :func:`~autoindex_pipeline.domain.quality.daily_quality`; ``trend``:
    :func:`~autoindex_pipeline.domain.quality.quality_trend` (or None). ``freq`` True picks the
    grid granularity from the window length (:func:`auto_freq`); None = sessions, ``"W"``/``"M"``.
    ``trend_image``: ``trend``'s chart as :func:`~autoindex_pipeline.reporting.charts.trend_png`
    already drew it (base64 PNG), so a caller showing it elsewhere too draws it once.
    """
    outcomes = list(outcomes)
    value = _portfolio_score(scores) if portfolio_score is None else portfolio_score
    counts = scores["colour"].value_counts().to_dict() if len(scores) else {}
    grid_freq = auto_freq(len(daily_grid.index)) if freq is True else (freq or None)
    order = order_worst_first(daily_grid, scores) if daily_grid.shape[1] else []
    failed = [o for o in outcomes if not o.passed]
    window = (
        f"{daily_grid.index.min().date()} .. {daily_grid.index.max().date()} ({len(daily_grid.index)} sessions, {daily_grid.shape[1]} symbols)"
        if len(daily_grid.index)
        else "empty window"
    )
    red = scores[scores["colour"] == "red"] if len(scores) else scores
    return render_template(
        "quality.html.j2",
        title=title,
        subtitle=subtitle or window,
        score=_num(value),
        gate=bool(value >= min_score),
        min_score=f"{min_score:g}",
        colours=COLOURS,
        counts={c: int(counts.get(c, 0)) for c in ("green", "yellow", "red")},
        n_failed=len(failed),
        n_blocking=sum(o.blocking for o in failed),
        trend_img=(trend_image or trend_png(trend)) if trend is not None and len(trend) > 1 else None,
        legend=[("green", f"ok (score > {GREEN_ABOVE:g})"), ("yellow", f"warning ({RED_BELOW:g}-{GREEN_ABOVE:g})"),
                ("red", f"error or no data (< {RED_BELOW:g})"), ("grey", "not listed")],
        grids=_grids(daily_grid, scores, order, worst_n, grid_freq),
        failed=[_check_section(o, sample) for o in sorted(failed, key=lambda o: (o.severity != ERROR, o.name))],
        passed=[f"{o.name} ({o.evaluated} evaluated)" for o in outcomes if o.passed],
        red=[str(s) for s in red["symbol"]] if len(red) else [],
        validation=_validation_tile(validation, min_validation_rate),
    )


def _pct(value: float | None) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.2%}"


def _validation_tile(daily: pd.DataFrame | None, threshold: float) -> dict[str, Any] | None:
    if daily is None:
        return None
    scored = daily[daily["checked"] > 0]
    rate = float(scored["passed"].sum()) / int(scored["checked"].sum()) if len(scored) else None
    low = int((scored["rate"] < threshold).sum())
    return {"rate": _pct(rate), "newest": _pct(scored["rate"].iloc[-1] if len(scored) else None),
            "low": low, "threshold": f"{threshold:.0%}", "ok": low == 0}


def render_validation_markdown(daily: pd.DataFrame, threshold: float, max_rows: int = 10) -> str:
    """The validation rate (rows passing every blocking rule / rows checked): the window's, the
    newest session's, and the sessions below ``threshold`` (newest first)."""
    scored = daily[daily["checked"] > 0]
    if scored.empty:
        return "**Validation rate:** no rows checked in the window.\n"
    tile = _validation_tile(daily, threshold)
    newest = scored.iloc[-1]
    lines = [
        f"**Validation rate {tile['rate']}** over the window ({int(scored['passed'].sum())} of {int(scored['checked'].sum())} "
        f"rows pass every blocking rule); newest session {pd.Timestamp(newest['date']).date()}: {_pct(newest['rate'])}.",
    ]
    low = scored[scored["rate"] < threshold].sort_values("date", ascending=False)
    if len(low):
        lines += ["", f"Sessions below {threshold:.0%} ({len(low)}):", "", "| session | checked | passed | rate |", "|---|---:|---:|---:|"]
        for r in low.head(max_rows).itertuples(index=False):
            lines.append(f"| {pd.Timestamp(r.date).date()} | {int(r.checked)} | {int(r.passed)} | {_pct(r.rate)} |")
        if len(low) > max_rows:
            lines.append(f"| ... {len(low) - max_rows} more | | | |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Markdown


def render_markdown(
    scores: pd.DataFrame,
    outcomes: Iterable[CheckOutcome],
    portfolio_score: float | None = None,
    *,
    min_score: float = MIN_PORTFOLIO_SCORE,
    max_symbols: int = 25,
    sample: int = 5,
) -> str:
    """A short summary for the Dagster UI: score and gate, colour counts, red (and yellow)
    symbols, failed checks with a few offending rows each."""
    outcomes = list(outcomes)
    value = _portfolio_score(scores) if portfolio_score is None else portfolio_score
    gate = bool(value >= min_score)
    counts = scores["colour"].value_counts().to_dict() if len(scores) else {}
    lines = [
        f"**Portfolio quality score {value:.4f}** ({'>=' if gate else '<'} {min_score:g}: allocations {'may run' if gate else '**blocked**'})",
        "",
        f"Symbols: {int(counts.get('green', 0))} green, {int(counts.get('yellow', 0))} yellow, {int(counts.get('red', 0))} red"
        + (f", {int(counts.get('grey', 0))} unscored" if counts.get("grey") else ""),
        "",
    ]
    for colour in ("red", "yellow"):
        sub = scores[scores["colour"] == colour] if len(scores) else scores
        if len(sub):
            shown = ", ".join(f"{s} ({v:.3f}, {w})" for s, v, w in zip(sub["symbol"][:max_symbols], sub["score"][:max_symbols], sub["worst_check"][:max_symbols]))
            extra = f" and {len(sub) - max_symbols} more" if len(sub) > max_symbols else ""
            lines += [f"**{colour.capitalize()} symbols ({len(sub)}):** {shown}{extra}", ""]
    failed = sorted((o for o in outcomes if not o.passed), key=lambda o: (o.severity != ERROR, o.name))
    if failed:
        lines += ["| check | severity | observed | threshold | offending |", "|---|---|---|---|---|"]
        for o in failed:
            thr = "" if o.threshold is None else f"{o.threshold:g}"
            lines.append(f"| {o.name} | {o.severity} | {o.observed:.6g} | {thr} | {o.offending_count} of {o.evaluated} |")
        for o in failed:
            lines += ["", f"**{o.name}** ({o.severity}): {o.description}", "", frame_to_markdown(o.offending_sample(sample), total=o.offending_count)]
    else:
        lines.append("All checks passed.")
    passed = [o.name for o in outcomes if o.passed]
    if passed:
        lines += ["", "Passed: " + ", ".join(passed)]
    return "\n".join(lines)


__all__ = ["COLOURS", "auto_freq", "grid_png", "order_worst_first", "render_html", "render_markdown", "trend_png"]
