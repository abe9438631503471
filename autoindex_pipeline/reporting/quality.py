"""The quality report: a self-contained HTML page and a Markdown summary.

HTML (:func:`render_html`): one file, inline CSS, pictures as inline base64 PNGs (matplotlib,
Agg backend, imported lazily), no script and no external asset, so it opens anywhere and can be
attached to an e-mail or stored as an artifact. Built for ~500 symbols:

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

import base64
import html
import io
from collections.abc import Iterable, Sequence
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
    compact_grid,
    portfolio_score as _portfolio_score,
    _records,
)
from autoindex_pipeline.reporting.markdown import frame_to_markdown

COLOURS = {"green": "#2e9e4f", "yellow": "#e8b923", "red": "#d0342c", "grey": "#d9d9d9"}
_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
.muted{color:#666;font-size:13px}.verdict{display:flex;gap:16px;flex-wrap:wrap;margin:12px 0}
.tile{border-radius:6px;padding:10px 14px;min-width:120px;background:#f4f4f4}
.tile b{display:block;font-size:22px}.pass{background:#e3f4e8}.fail{background:#fbe3e1}
table{border-collapse:collapse;font-size:12px;margin:6px 0}th,td{border:1px solid #ddd;padding:3px 6px;text-align:left}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.dot{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:middle}
.sev-ERROR{color:#b3261e;font-weight:600}.sev-WARN{color:#9a6b00;font-weight:600}
img{max-width:100%;height:auto;border:1px solid #eee}details{margin:6px 0}
.legend span{margin-right:14px;font-size:12px}
"""


# --------------------------------------------------------------------------------------------
# Pictures


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _bands(values: np.ndarray) -> np.ndarray:
    """Cell values -> 0 red, 1 yellow, 2 green, 3 not listed (same bands as the scores)."""
    v = np.asarray(values, dtype=float)
    return np.select([np.isnan(v), v > GREEN_ABOVE, v >= RED_BELOW], [3, 2, 1], default=0)


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
    band = _bands(score)  # 0 red, 1 yellow, 2 green, 3 unscored
    frame = pd.DataFrame({"band": band, "errors": -errors, "score": np.nan_to_num(score, nan=2.0), "warns": -warns, "name": names})
    return frame.sort_values(["band", "errors", "score", "warns", "name"], kind="stable")["name"].tolist()


def grid_png(
    grid: pd.DataFrame,
    symbols: Sequence[str],
    *,
    freq: str | None = None,
    label_rows: bool = True,
    title: str = "",
    max_label_rows: int = 80,
) -> str:
    """The status grid (rows = ``symbols`` in that order, columns = sessions or periods) as a
    base64 PNG. Colours: green ok, yellow warning, red error or no data, grey not listed."""
    plt = _pyplot()
    from matplotlib.colors import ListedColormap

    shown = compact_grid(grid.loc[:, list(symbols)], freq) if len(symbols) else grid.iloc[:, :0]
    codes = _bands(shown.to_numpy().T)  # symbols x periods
    n_rows, n_cols = codes.shape if codes.size else (len(symbols), len(shown.index))
    labelled = label_rows and n_rows <= max_label_rows
    row_h = 0.16 if labelled else max(0.012, min(0.05, 9.0 / max(n_rows, 1)))
    width = min(16.0, max(6.0, 0.09 * n_cols + 2.0))
    height = max(1.6, row_h * n_rows + 1.2)
    fig, ax = plt.subplots(figsize=(width, height))
    cmap = ListedColormap([COLOURS["red"], COLOURS["yellow"], COLOURS["green"], COLOURS["grey"]])
    if codes.size:
        ax.imshow(codes, aspect="auto", interpolation="nearest", cmap=cmap, vmin=-0.5, vmax=3.5)
    if labelled:
        ax.set_yticks(range(n_rows))
        ax.set_yticklabels(list(symbols), fontsize=7)
    else:
        step = max(1, int(round(n_rows / 10 / 50.0)) * 50) if n_rows > 100 else 10
        ticks = list(range(0, n_rows, step))
        ax.set_yticks(ticks)
        ax.set_yticklabels([f"#{t + 1} {symbols[t]}" for t in ticks], fontsize=7)
    if n_cols:
        dates = pd.DatetimeIndex(shown.index)
        n_ticks = min(12, n_cols)
        xt = np.unique(np.linspace(0, n_cols - 1, n_ticks).round().astype(int))
        fmt = "%Y-%m-%d" if freq in (None, "W") else "%Y-%m"
        ax.set_xticks(xt)
        ax.set_xticklabels([dates[i].strftime(fmt) for i in xt], fontsize=7, rotation=45, ha="right")
    ax.set_title(title, fontsize=10, loc="left")
    ax.tick_params(length=0)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    return _png(fig)


def trend_png(trend: pd.DataFrame, title: str = "Quality over time") -> str:
    """Status score per period (line, left axis) and symbols with an error (bars, right)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(11, 2.8))
    dates = pd.to_datetime(trend["date"])
    ax2 = ax.twinx()
    width = max(1.0, (dates.diff().dt.days.median() if len(dates) > 1 else 1.0) * 0.8)
    ax2.bar(dates, trend["symbols_with_errors"], width=width, color=COLOURS["red"], alpha=0.35, label="symbols with an error")
    ax.plot(dates, trend["score"], color="#1f4e79", lw=1.6, label="status score")
    ax.axhline(GREEN_ABOVE, color=COLOURS["green"], lw=0.8, ls="--")
    ax.axhline(RED_BELOW, color=COLOURS["red"], lw=0.8, ls="--")
    lo = float(np.nanmin(trend["score"])) if len(trend) else 0.8
    ax.set_ylim(min(0.8, lo - 0.02), 1.005)
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set_ylabel("score", fontsize=8)
    ax2.set_ylabel("symbols with an error", fontsize=8)
    ax.tick_params(labelsize=7)
    ax2.tick_params(labelsize=7)
    ax.set_title(title, fontsize=10, loc="left")
    return _png(fig)


# --------------------------------------------------------------------------------------------
# HTML


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return ""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return _esc(value)
    if np.isnan(v):
        return ""
    return f"{v:.{digits}f}" if not v.is_integer() or abs(v) < 1 else f"{int(v)}"


def _dot(colour: str) -> str:
    return f'<span class="dot" style="background:{COLOURS.get(colour, "#999")}"></span>'


def _table(frame: pd.DataFrame, colour_col: str | None = None) -> str:
    if frame.empty:
        return "<p class='muted'>none</p>"
    head = "".join(f"<th>{_esc(c)}</th>" for c in frame.columns if c != colour_col)
    body = []
    for row in _records(frame):
        cells = []
        for c in frame.columns:
            if c == colour_col:
                continue
            v = row[c]
            if c == "symbol" and colour_col:
                cells.append(f"<td>{_dot(row[colour_col])}{_esc(v)}</td>")
            elif isinstance(v, float):
                cells.append(f"<td class='num'>{_num(v)}</td>")
            elif isinstance(v, int) and not isinstance(v, bool):
                cells.append(f"<td class='num'>{v}</td>")
            else:
                cells.append(f"<td class='sev-{_esc(v)}'>{_esc(v)}</td>" if c == "severity" else f"<td>{_esc(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _legend() -> str:
    items = [
        ("green", f"ok (score &gt; {GREEN_ABOVE:g})"),
        ("yellow", f"warning ({RED_BELOW:g}-{GREEN_ABOVE:g})"),
        ("red", f"error or no data (&lt; {RED_BELOW:g})"),
        ("grey", "not listed"),
    ]
    return "<p class='legend'>" + "".join(f"<span>{_dot(c)}{t}</span>" for c, t in items) + "</p>"


def _check_section(o: CheckOutcome, sample: int) -> str:
    head = (
        f"<h3><span class='sev-{o.severity}'>{_esc(o.severity)}</span> {_esc(o.name)}: "
        f"{o.offending_count} offending of {o.evaluated} evaluated</h3>"
        f"<p class='muted'>{_esc(o.description)} - observed {_num(o.observed, 6)}"
        + (f", threshold {_num(o.threshold, 6)}" if o.threshold is not None else "")
        + "</p>"
    )
    rows = o.offending_sample(sample)
    more = f"<p class='muted'>{len(rows)} of {o.offending_count} rows shown</p>" if o.offending_count > len(rows) else ""
    return head + _table(rows) + more


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
) -> str:
    """The quality report as one self-contained HTML page (see the module doc).

    ``scores``: :func:`~autoindex_pipeline.domain.quality.quality_scores`; ``daily_grid``:
    :func:`~autoindex_pipeline.domain.quality.daily_quality`; ``trend``:
    :func:`~autoindex_pipeline.domain.quality.quality_trend` (or None). ``freq`` True picks the
    grid granularity from the window length (:func:`auto_freq`); None = sessions, ``"W"``/``"M"``.
    """
    outcomes = list(outcomes)
    value = _portfolio_score(scores) if portfolio_score is None else portfolio_score
    gate = bool(value >= min_score)
    counts = scores["colour"].value_counts().to_dict() if len(scores) else {}
    grid_freq = auto_freq(len(daily_grid.index)) if freq is True else (freq or None)
    order = order_worst_first(daily_grid, scores) if daily_grid.shape[1] else []
    worst = order[:worst_n]
    failed = [o for o in outcomes if not o.passed]
    passed = [o for o in outcomes if o.passed]
    window = (
        f"{daily_grid.index.min().date()} .. {daily_grid.index.max().date()} ({len(daily_grid.index)} sessions, {daily_grid.shape[1]} symbols)"
        if len(daily_grid.index)
        else "empty window"
    )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_esc(title)}</h1><p class='muted'>{_esc(subtitle or window)}</p>",
        "<div class='verdict'>",
        f"<div class='tile {'pass' if gate else 'fail'}'>portfolio score<b>{_num(value)}</b>"
        f"{'&ge;' if gate else '&lt;'} {min_score:g}: allocations {'may run' if gate else 'BLOCKED'}</div>",
        *(f"<div class='tile'>{_dot(c)}{c}<b>{int(counts.get(c, 0))}</b>symbols</div>" for c in ("green", "yellow", "red")),
        f"<div class='tile {'fail' if any(o.blocking for o in failed) else 'pass'}'>failed checks<b>{len(failed)}</b>"
        f"{sum(o.blocking for o in failed)} blocking</div>",
        "</div>",
    ]
    if trend is not None and len(trend) > 1:
        parts += ["<h2>Trend</h2>", f"<img alt='quality trend' src='data:image/png;base64,{trend_png(trend)}'>"]
    if worst:
        parts += [
            f"<h2>Worst {len(worst)} symbols</h2>",
            _legend(),
            f"<img alt='grid of the worst symbols' src='data:image/png;base64,{grid_png(daily_grid, worst, freq=grid_freq, title='worst symbols, worst cell per ' + {None: 'session', 'W': 'week', 'M': 'month'}.get(grid_freq, str(grid_freq)))}'>",
        ]
        detail = scores[scores["symbol"].isin(worst)].copy() if len(scores) else pd.DataFrame()
        if len(detail):
            check_cols = [c for c in detail.columns if c not in ("symbol", "score", "colour", "checks", "worst_check", "worst_rate")]
            detail = detail.set_index("symbol").reindex([s for s in worst if s in set(detail["symbol"])]).reset_index()
            parts.append(_table(detail.loc[:, ["symbol", "colour", "score", "worst_check", "worst_rate", *check_cols]], colour_col="colour"))
        parts += [
            f"<h2>All {len(order)} symbols (worst first)</h2>",
            f"<img alt='grid of all symbols' src='data:image/png;base64,{grid_png(daily_grid, order, freq='M' if grid_freq in (None, 'W') and len(daily_grid.index) > 130 else grid_freq, label_rows=len(order) <= 80, title='every symbol, one row each')}'>",
        ]
    parts.append(f"<h2>Failed checks ({len(failed)})</h2>")
    if failed:
        for o in sorted(failed, key=lambda o: (o.severity != ERROR, o.name)):
            parts.append(_check_section(o, sample))
    else:
        parts.append("<p>none</p>")
    parts.append(f"<h2>Passed checks ({len(passed)})</h2><p>" + ", ".join(f"{_esc(o.name)} ({o.evaluated} evaluated)" for o in passed) + "</p>")
    red = scores[scores["colour"] == "red"] if len(scores) else scores
    if len(red):
        parts.append(f"<h2>Red symbols ({len(red)})</h2><p>" + ", ".join(_esc(s) for s in red["symbol"]) + "</p>")
    parts.append("</body></html>")
    return "".join(parts)


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
