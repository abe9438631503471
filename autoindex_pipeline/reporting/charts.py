"""The one matplotlib set-up and every chart the reports draw.

matplotlib is imported lazily (importing a report module costs nothing until a chart is drawn)
and used through ``Figure`` with the Agg canvas, never ``pyplot``: no global backend switch, no
figure registry to leak or close, safe in a threaded Dagster run.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autoindex_pipeline.domain.performance import prepare_daily
from autoindex_pipeline.domain.quality import GREEN_ABOVE, RED_BELOW, compact_grid

INDEX_COLOUR = "#1f5fa8"
BENCH_COLOUR = "#8a8a8a"
DRAWDOWN_COLOUR = "#c0392b"
QUALITY_COLOURS = {"green": "#2e9e4f", "yellow": "#e8b923", "red": "#d0342c", "grey": "#d9d9d9"}
SCORE_COLOUR = "#1f4e79"
GRID_LINE = "#eeeeee"


def figure(width: float, height: float, *, dpi: float = 100, layout: str | None = None) -> Any:
    """A matplotlib Figure on the Agg canvas (no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig: Any, *, dpi: float = 100, tight: bool = False) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white", **({"bbox_inches": "tight"} if tight else {}))
    return buf.getvalue()


def png_base64(fig: Any, *, dpi: float = 100, tight: bool = True) -> str:
    """The PNG as base64 text, for a ``data:`` URI in a self-contained page."""
    return base64.b64encode(png_bytes(fig, dpi=dpi, tight=tight)).decode("ascii")


def _plain_axes(*axes: Any, spines: Sequence[str] = ("top", "right")) -> None:
    for ax in axes:
        ax.set_axisbelow(True)
        for side in spines:
            ax.spines[side].set_visible(False)


# --------------------------------------------------------------------------------------------
# Performance: index vs benchmark and drawdowns


def _levels(daily: pd.DataFrame) -> pd.Series:
    d = prepare_daily(daily)
    if "level" in d.columns and d["level"].notna().all():
        return d.set_index("date")["level"].astype(float)
    return pd.Series(np.cumprod(1.0 + d["daily_return"].fillna(0.0).to_numpy()) * 100.0, index=d["date"])


def _rebased(index_daily: pd.DataFrame, benchmark_daily: pd.DataFrame | None, since: Any) -> tuple[pd.Series, pd.Series | None]:
    idx = _levels(index_daily)
    if since is not None:
        idx = idx[idx.index >= pd.Timestamp(since).normalize()]
    if idx.empty:
        raise ValueError("nothing to draw: the index series is empty")
    idx = idx / idx.iloc[0] * 100.0
    if benchmark_daily is None or not len(benchmark_daily):
        return idx, None
    bl = _levels(benchmark_daily).reindex(idx.index).ffill()
    return idx, (bl / bl.dropna().iloc[0] * 100.0 if bl.notna().any() else None)


def _levels_panel(ax: Any, idx: pd.Series, bench: pd.Series | None, index_label: str, benchmark_label: str, title: str | None) -> None:
    ax.plot(idx.index, idx.to_numpy(), color=INDEX_COLOUR, lw=2.0, label=f"{index_label} ({idx.iloc[-1] / 100.0 - 1.0:+.1%})")
    if bench is not None:
        bench_ret = bench.dropna().iloc[-1] / 100.0 - 1.0
        ax.plot(bench.index, bench.to_numpy(), color=BENCH_COLOUR, lw=1.5, label=f"{benchmark_label} ({bench_ret:+.1%})")
    ax.axhline(100.0, color="#cccccc", lw=0.8, zorder=0)
    ax.set_ylabel("Level (rebased to 100)")
    ax.legend(loc="upper left", frameon=False, fontsize=10)
    ax.grid(True, color=GRID_LINE)
    for series, colour in ((idx, INDEX_COLOUR), (bench, BENCH_COLOUR)):
        if series is not None and series.notna().any():
            last = series.dropna()
            ax.annotate(f"{last.iloc[-1]:.1f}", xy=(last.index[-1], last.iloc[-1]), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=9, color=colour)
    first, last_day = idx.index[0].date(), idx.index[-1].date()
    ax.set_title(title or f"{index_label} vs {benchmark_label}, {first} to {last_day}", loc="left", fontsize=12)


def _drawdown_panel(ax: Any, idx: pd.Series, bench: pd.Series | None, index_label: str, benchmark_label: str) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.ticker import PercentFormatter

    dd = idx / idx.cummax() - 1.0
    ax.fill_between(dd.index, dd.to_numpy(), 0.0, color=DRAWDOWN_COLOUR, alpha=0.35, lw=0, label=f"{index_label} drawdown")
    ax.plot(dd.index, dd.to_numpy(), color=DRAWDOWN_COLOUR, lw=1.0)
    floor = float(dd.min())
    if bench is not None:
        bdd = bench / bench.cummax() - 1.0
        ax.plot(bdd.index, bdd.to_numpy(), color=BENCH_COLOUR, lw=1.2, label=f"{benchmark_label} drawdown")
        floor = float(min(floor, bdd.min()))
    else:
        floor = min(floor, 0.0)
    worst = dd.idxmin()
    if dd.loc[worst] < 0:
        ax.annotate(f"max {dd.loc[worst]:.1%}", xy=(worst, dd.loc[worst]), xytext=(8, 0), textcoords="offset points",
                    fontsize=9, color=DRAWDOWN_COLOUR, va="center",
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85})
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylabel("Drawdown")
    ax.set_ylim(floor * 1.15 if floor < 0 else -0.01, 0.0)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False, fontsize=9, borderaxespad=0.2)
    ax.grid(True, color=GRID_LINE)
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def render_chart_png(
    index_daily: pd.DataFrame,
    benchmark_daily: pd.DataFrame | None,
    path: str | Path,
    *,
    title: str | None = None,
    index_label: str = "Index",
    benchmark_label: str = "Benchmark",
    since: dt.date | str | pd.Timestamp | None = None,
    dpi: int = 120,
) -> Path:
    """Index vs benchmark, both rebased to 100 at the first date shown (top, 70% of the
    height), and their drawdowns from the running peak within the window (bottom). Saved as a
    PNG at ``path``; returns the path."""
    idx, bench = _rebased(index_daily, benchmark_daily, since)
    fig = figure(10, 6.2, dpi=dpi, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2.4, 1]})
    _levels_panel(top, idx, bench, index_label, benchmark_label, title)
    _drawdown_panel(bottom, idx, bench, index_label, benchmark_label)
    _plain_axes(top, bottom)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png_bytes(fig, dpi=dpi))
    return out


def chart_markdown(
    index_daily: pd.DataFrame,
    benchmark_daily: pd.DataFrame | None,
    *,
    title: str,
    index_label: str = "Index",
    benchmark_label: str = "Benchmark",
    since: dt.date | str | pd.Timestamp | None = None,
) -> str:
    """The same chart, smaller, as a Markdown image with a ``data:`` URI: the Dagster UI shows
    it inside the asset's page (a file path it cannot open). About 86 kB of base64 for two
    years of sessions at this size (measured on the demo), small enough for every
    materialization's metadata."""
    idx, bench = _rebased(index_daily, benchmark_daily, since)
    fig = figure(7.5, 4.4, dpi=72, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2.4, 1]})
    _levels_panel(top, idx, bench, index_label, benchmark_label, title)
    _drawdown_panel(bottom, idx, bench, index_label, benchmark_label)
    _plain_axes(top, bottom)
    return f"![{title}](data:image/png;base64,{png_base64(fig, dpi=72, tight=False)})"


# --------------------------------------------------------------------------------------------
# Data quality: status grid and trend


def quality_bands(values: np.ndarray) -> np.ndarray:
    """Cell values -> 0 red, 1 yellow, 2 green, 3 not listed (same bands as the scores)."""
    v = np.asarray(values, dtype=float)
    return np.select([np.isnan(v), v > GREEN_ABOVE, v >= RED_BELOW], [3, 2, 1], default=0)


def _label_rows(ax: Any, symbols: Sequence[str], n_rows: int, labelled: bool) -> None:
    if labelled:
        ax.set_yticks(range(n_rows))
        ax.set_yticklabels(list(symbols), fontsize=7)
        return
    step = max(1, int(round(n_rows / 10 / 50.0)) * 50) if n_rows > 100 else 10
    ticks = list(range(0, n_rows, step))
    ax.set_yticks(ticks)
    ax.set_yticklabels([f"#{t + 1} {symbols[t]}" for t in ticks], fontsize=7)


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
    from matplotlib.colors import ListedColormap

    shown = compact_grid(grid.loc[:, list(symbols)], freq) if len(symbols) else grid.iloc[:, :0]
    codes = quality_bands(shown.to_numpy().T)  # symbols x periods
    n_rows, n_cols = codes.shape if codes.size else (len(symbols), len(shown.index))
    labelled = label_rows and n_rows <= max_label_rows
    row_h = 0.16 if labelled else max(0.012, min(0.05, 9.0 / max(n_rows, 1)))
    fig = figure(min(16.0, max(6.0, 0.09 * n_cols + 2.0)), max(1.6, row_h * n_rows + 1.2))
    ax = fig.subplots()
    c = QUALITY_COLOURS
    if codes.size:
        cmap = ListedColormap([c["red"], c["yellow"], c["green"], c["grey"]])
        ax.imshow(codes, aspect="auto", interpolation="nearest", cmap=cmap, vmin=-0.5, vmax=3.5)
    _label_rows(ax, symbols, n_rows, labelled)
    if n_cols:
        dates = pd.DatetimeIndex(shown.index)
        xt = np.unique(np.linspace(0, n_cols - 1, min(12, n_cols)).round().astype(int))
        fmt = "%Y-%m-%d" if freq in (None, "W") else "%Y-%m"
        ax.set_xticks(xt)
        ax.set_xticklabels([dates[i].strftime(fmt) for i in xt], fontsize=7, rotation=45, ha="right")
    ax.set_title(title, fontsize=10, loc="left")
    ax.tick_params(length=0)
    _plain_axes(ax, spines=("top", "right", "bottom", "left"))
    return png_base64(fig)


def trend_png(trend: pd.DataFrame, title: str = "Quality over time") -> str:
    """Status score per period (line, left axis) and symbols with an error (bars, right)."""
    fig = figure(11, 2.8)
    ax = fig.subplots()
    dates = pd.to_datetime(trend["date"])
    ax2 = ax.twinx()
    width = max(1.0, (dates.diff().dt.days.median() if len(dates) > 1 else 1.0) * 0.8)
    ax2.bar(dates, trend["symbols_with_errors"], width=width, color=QUALITY_COLOURS["red"], alpha=0.35, label="symbols with an error")
    ax.plot(dates, trend["score"], color=SCORE_COLOUR, lw=1.6, label="status score")
    ax.axhline(GREEN_ABOVE, color=QUALITY_COLOURS["green"], lw=0.8, ls="--")
    ax.axhline(RED_BELOW, color=QUALITY_COLOURS["red"], lw=0.8, ls="--")
    lo = float(np.nanmin(trend["score"])) if len(trend) else 0.8
    ax.set_ylim(min(0.8, lo - 0.02), 1.005)
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set_ylabel("score", fontsize=8)
    ax2.set_ylabel("symbols with an error", fontsize=8)
    ax.tick_params(labelsize=7)
    ax2.tick_params(labelsize=7)
    ax.set_title(title, fontsize=10, loc="left")
    return png_base64(fig)
