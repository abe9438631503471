"""The performance report as Markdown (the Dagster UI) and as a self-contained HTML page
(``templates/performance.html.j2``). Figures come from
:func:`autoindex_pipeline.domain.performance.period_report`; the chart from
:func:`autoindex_pipeline.reporting.charts.render_chart_png`."""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

import pandas as pd

from autoindex_pipeline.domain.performance import RATIO_MIN_RETURNS, PerformanceReport
from autoindex_pipeline.reporting import Cell, render_template

LABELS = {
    "total_return": "Total return",
    "cagr": "CAGR",
    "volatility": "Volatility (ann.)",
    "sharpe": "Sharpe",
    "sortino": "Sortino",
    "max_drawdown": "Max drawdown",
    "win_rate": "Win rate",
    "best_day": "Best day",
    "worst_day": "Worst day",
    "turnover": "Turnover",
    "n_returns": "Daily returns",
    "month_to_date": "Month to date",
    "year_to_date": "Year to date",
    "since_inception": "Since inception",
    "inception_volatility": "Volatility since inception",
    "inception_sharpe": "Sharpe since inception",
    "inception_max_drawdown": "Max drawdown since inception",
}
_RATIOS = {"sharpe", "sortino", "inception_sharpe"}
_COUNTS = {"n_returns"}
_UNSIGNED = {"volatility", "win_rate", "turnover", "inception_volatility"}


# --------------------------------------------------------------------------------------------
# Numbers as text


def _isnan(x: Any) -> bool:
    try:
        return x is None or math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def pct(x: Any, sign: bool = False) -> str:
    if _isnan(x):
        return "n/a"
    if float(x) == 0:
        return "0.00%"
    return f"{float(x):+.2%}" if sign else f"{float(x):.2%}"


def pp(x: Any) -> str:
    """A difference of two percentages, in percentage points."""
    if _isnan(x):
        return "n/a"
    return "0.00 pp" if float(x) == 0 else f"{float(x) * 100:+.2f} pp"


def fmt(metric: str, x: Any) -> str:
    if _isnan(x):
        return "n/a"
    if metric in _COUNTS:
        return f"{int(x)}"
    if metric in _RATIOS:
        return f"{float(x):.2f}"
    if metric in _UNSIGNED:
        return pct(x)
    return pct(x, sign=True)


def fmt_active(metric: str, x: Any) -> str:
    if _isnan(x):
        return "n/a"
    if metric in _COUNTS:
        return ""
    if metric in _RATIOS:
        return f"{float(x):+.2f}"
    return pp(x)


def title(report: PerformanceReport) -> str:
    kind = {"daily": "Daily", "weekly": "Weekly", "monthly": "Monthly"}[report.period]
    return f"{kind} performance report - {report.strategy} - {report.label}"


def headline(report: PerformanceReport) -> str:
    f = report.figures
    idx, bm = f.loc["total_return", "index"], f.loc["total_return", "benchmark"]
    text = f"The index returned {fmt('total_return', idx)}"
    if not _isnan(bm):
        text += f" against {fmt('total_return', bm)} for the benchmark ({pp(idx - bm)})"
    first = report.first_session.isoformat() if report.first_session else "-"
    n = report.n_returns
    text += f" over {n} session{'s' if n != 1 else ''} ({first} to {report.as_of.isoformat()})"
    if not report.complete:
        text += ", period to date"
    return text + "."


def _extremes(report: PerformanceReport, spell: Any) -> list[str]:
    out = []
    for side in ("index", "benchmark"):
        best, worst = report.best_day.get(side), report.worst_day.get(side)
        if best and worst:
            out.append(
                f"{side.capitalize()}: best day {best[0].isoformat()} ({spell(best[1])}), "
                f"worst day {worst[0].isoformat()} ({spell(worst[1])})."
            )
    return out


# --------------------------------------------------------------------------------------------
# Markdown


def _md_table(header: str, align: str, rows: list[list[str]]) -> list[str]:
    return [header, align] + ["| " + " | ".join(r) + " |" for r in rows]


def _md_metrics(frame: pd.DataFrame) -> list[str]:
    rows = [[LABELS[k], fmt(k, r["index"]), fmt(k, r["benchmark"]), fmt_active(k, r["active"])] for k, r in frame.iterrows()]
    return _md_table("| | Index | Benchmark | Active |", "|---|---:|---:|---:|", rows)


def _md_block(title_: str, header: str, rows: list[list[str]]) -> list[str]:
    if not rows:
        return []
    return [f"**{title_}**", ""] + _md_table(header, "|---|---:|---:|---:|", rows) + [""]


def _contributor_cells(frame: pd.DataFrame) -> list[list[str]]:
    return [[r.symbol, pp(r.contribution), pct(r.avg_weight), pct(r.symbol_return, sign=True)] for r in frame.itertuples(index=False)]


def _change_cells(frame: pd.DataFrame) -> list[list[str]]:
    return [[r.symbol, pct(r.weight_start), pct(r.weight_end), pp(r.change)] for r in frame.itertuples(index=False)]


_CONTRIB_HEAD = ("Symbol", "Contribution", "Avg weight", "Return")
_CHANGE_HEAD = ("Symbol", "Start", "End", "Change")


def render_markdown(report: PerformanceReport, top_n: int = 5) -> str:
    """The report as Markdown: headline, figures, best / worst days, context, contributors,
    allocation changes and notes."""
    lines = [f"# {title(report)}", "", headline(report), "", "## Figures", ""] + _md_metrics(report.figures)
    for text in _extremes(report, lambda x: pct(x, sign=True)):
        lines += ["", text]
    lines += ["", "## Context", ""] + _md_metrics(report.context)
    contrib_head = "| " + " | ".join(_CONTRIB_HEAD) + " |"
    change_head = "| " + " | ".join(_CHANGE_HEAD) + " |"
    if len(report.contributors):
        lines += ["", f"## Contributors ({report.weights_source})", ""]
        lines += _md_block("Top", contrib_head, _contributor_cells(report.top_contributors(top_n)))
        lines += _md_block("Bottom", contrib_head, _contributor_cells(report.bottom_contributors(top_n)))
    if len(report.allocation_changes):
        lines += ["", "## Allocation changes (start of period to as of)", ""]
        lines += _md_block("Biggest increases", change_head, _change_cells(report.biggest_increases(top_n)))
        lines += _md_block("Biggest decreases", change_head, _change_cells(report.biggest_decreases(top_n)))
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in report.notes]
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------------------------
# HTML


def _sign_class(x: Any) -> str:
    if _isnan(x):
        return "num muted"
    return "num pos" if float(x) > 0 else ("num neg" if float(x) < 0 else "num")


def _cells(rows: list[list[tuple[str, str]]]) -> list[list[Cell]]:
    return [[Cell(text, cls) for text, cls in row] for row in rows]


def _metric_rows(frame: pd.DataFrame) -> list[list[tuple[str, str]]]:
    rows = []
    for metric, row in frame.iterrows():
        signed = metric not in _UNSIGNED | {"inception_volatility"} | _COUNTS
        rows.append([
            (LABELS[metric], ""),
            (fmt(metric, row["index"]), _sign_class(row["index"]) if signed else "num"),
            (fmt(metric, row["benchmark"]), _sign_class(row["benchmark"]) if signed else "num"),
            (fmt_active(metric, row["active"]), _sign_class(row["active"]) if metric not in _COUNTS else "num"),
        ])
    return rows


def _tables(report: PerformanceReport, top_n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    def contrib(frame: pd.DataFrame) -> list[list[tuple[str, str]]]:
        return [[(r.symbol, ""), (pp(r.contribution), _sign_class(r.contribution)), (pct(r.avg_weight), "num"),
                 (pct(r.symbol_return, True), _sign_class(r.symbol_return))] for r in frame.itertuples(index=False)]

    def change(frame: pd.DataFrame) -> list[list[tuple[str, str]]]:
        return [[(r.symbol, ""), (pct(r.weight_start), "num"), (pct(r.weight_end), "num"), (pp(r.change), _sign_class(r.change))]
                for r in frame.itertuples(index=False)]

    contributors = [{"name": n, "headers": _CONTRIB_HEAD, "rows": _cells(contrib(f))}
                    for n, f in (("Top", report.top_contributors(top_n)), ("Bottom", report.bottom_contributors(top_n)))]
    changes = [{"name": n, "headers": _CHANGE_HEAD, "rows": _cells(change(f))}
               for n, f in (("Biggest increases", report.biggest_increases(top_n)), ("Biggest decreases", report.biggest_decreases(top_n)))]
    return [t for t in contributors if t["rows"]], [t for t in changes if t["rows"]]


def _chart_src(chart_png: str | Path | bytes | None, embed: bool) -> str | None:
    if chart_png is None:
        return None
    if isinstance(chart_png, (bytes, bytearray)) or embed:
        data = bytes(chart_png) if isinstance(chart_png, (bytes, bytearray)) else Path(chart_png).read_bytes()
        return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return Path(chart_png).name


def render_html(report: PerformanceReport, chart_png: str | Path | bytes | None = None, *, embed: bool = True, top_n: int = 5) -> str:
    """A self-contained HTML page of the report. ``chart_png``: PNG bytes or a path; embedded
    as base64 (``embed=True``, one file to mail or store) or linked by file name (the page is
    then meant to sit next to the PNG)."""
    contributors, changes = _tables(report, top_n)
    return render_template(
        "performance.html.j2",
        title=title(report),
        headline=headline(report),
        chart_src=_chart_src(chart_png, embed),
        metric_headers=("", "Index", "Benchmark", "Active"),
        figures=_cells(_metric_rows(report.figures)),
        extremes=_extremes(report, lambda x: pct(x, True)),
        context=_cells(_metric_rows(report.context)),
        weights_source=report.weights_source if len(report.contributors) else None,
        contributor_tables=contributors,
        change_tables=changes if len(report.allocation_changes) else None,
        notes=report.notes,
        risk_free_rate=f"{report.risk_free_rate:.2%}",
        min_returns=RATIO_MIN_RETURNS,
    )
