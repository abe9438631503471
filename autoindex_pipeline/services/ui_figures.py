"""What the UI shows of the index after an update: plain numbers per strategy (Dagster plots a
numeric metadata entry over the materializations) and the index-vs-benchmark chart as an
embedded image, read from the stored rows of every strategy's current version."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.reporting.charts import chart_markdown
from autoindex_pipeline.warehouse.reports import read_index_frame
from autoindex_pipeline.warehouse.strategy import read_current_rows

if TYPE_CHECKING:
    import sqlalchemy as sa

RISK_FIGURES = ("total_return", "cagr", "volatility", "sharpe", "max_drawdown", "current_drawdown")


@dataclass
class IndexFigures:
    index_numbers: dict[str, float] = field(default_factory=dict)
    """``<strategy> level``, ``daily_return``, ``total_return``, ``drawdown`` (from the running peak)."""
    metric_numbers: dict[str, float] = field(default_factory=dict)
    """``<strategy> <metric>`` of the newest risk-metrics row (only the defined ones)."""
    charts: dict[str, str] = field(default_factory=dict)
    """strategy -> Markdown image of the index vs the benchmark with drawdowns."""


# The charts last drawn in this process, by what they draw: index_values and performance_reports
# both show the chart of the same rows within one run (in-process executor), and drawing it is
# most of the cost of either's figures (~0.4 s a strategy).
_DRAWN: dict[str, str] = {}
_DRAWN_KEEP = 8


def _chart(name: str, index, bench, config: AutoIndexConfig) -> str:
    title = f"{name} vs {config.universe.benchmark} (base 100)"
    digest = hashlib.sha256(f"{title}|{config.universe.benchmark}".encode())
    for frame in (index, bench):
        if frame is not None:
            digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    key = digest.hexdigest()
    if key not in _DRAWN:
        if len(_DRAWN) >= _DRAWN_KEEP:
            _DRAWN.pop(next(iter(_DRAWN)))
        _DRAWN[key] = chart_markdown(index, bench, title=title, index_label=name, benchmark_label=config.universe.benchmark)
    return _DRAWN[key]


def _number(value) -> float | None:
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else float(value)


def index_figures(engine: sa.Engine, config: AutoIndexConfig) -> IndexFigures:
    out = IndexFigures()
    metrics = read_current_rows(engine, "risk_metrics", {n: s.version for n, s in config.strategies.items()})
    for name, strat in config.strategies.items():
        index = read_index_frame(engine, name, strat.version)
        if index.empty:
            continue
        last = index.iloc[-1]
        level = float(last["level"])
        peak = float(index["level"].max())
        numbers = {"level": level, "daily_return": _number(last["daily_return"]),
                   "total_return": level / float(index["level"].iloc[0]) - 1.0, "drawdown": level / peak - 1.0}
        out.index_numbers.update({f"{name} {k}": v for k, v in numbers.items() if v is not None})
        mine = metrics[metrics["strategy"] == name].sort_values("date") if len(metrics) else metrics
        if len(mine):
            newest = mine.iloc[-1]
            out.metric_numbers[f"{name} n_returns"] = float(newest["n_returns"])
            for metric in RISK_FIGURES:
                value = _number(newest[metric]) if metric in newest and newest[metric] == newest[metric] else None
                if value is not None:
                    out.metric_numbers[f"{name} {metric}"] = value
        if len(index) >= 2:
            bench = index.loc[:, ["date", "benchmark_level", "benchmark_return"]].rename(
                columns={"benchmark_level": "level", "benchmark_return": "daily_return"})
            out.charts[name] = _chart(name, index.loc[:, ["date", "level", "daily_return"]],
                                      None if bench["level"].isna().all() else bench, config)
    return out
