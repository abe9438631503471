"""The capacity page for the asset's metadata: a chart of the warehouse, Dagster storage and free
disk over the stored snapshots (an inline PNG, which the Dagster UI renders in Markdown
metadata) and the table sizes."""

from __future__ import annotations

import pandas as pd

from autoindex_pipeline.reporting.charts import figure, png_base64


def _mb(value: float | None) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value / 1e6:,.1f}"


def capacity_chart_png(history: pd.DataFrame) -> str | None:
    """Base64 PNG: database and Dagster storage sizes (MB, left) and free disk (GB, right) by
    day; None with fewer than one snapshot."""
    if history.empty:
        return None
    frame = history.copy()
    frame["day"] = pd.to_datetime(frame["day"])
    fig = figure(7.5, 2.8, dpi=80)
    ax = fig.add_subplot(1, 1, 1)
    for kind, label, colour in (("database", "warehouse", "#1f5fa8"), ("dagster", "Dagster storage", "#8a8a8a")):
        part = frame[frame["kind"] == kind].sort_values("day")
        if len(part):
            ax.plot(part["day"], part["total_bytes"] / 1e6, marker="o", markersize=3, label=label, color=colour)
    ax.set_ylabel("MB")
    disk = frame[frame["kind"] == "disk"].sort_values("day")
    if len(disk):
        right = ax.twinx()
        right.plot(disk["day"], disk["free_bytes"] / 1e9, linestyle="--", color="#2e9e4f", label="free disk")
        right.set_ylabel("free GB")
        right.legend(loc="upper right", fontsize=8, frameon=False)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.spines["top"].set_visible(False)
    fig.autofmt_xdate()
    return png_base64(fig, dpi=80)


def capacity_markdown(
    tables: pd.DataFrame,
    history: pd.DataFrame,
    *,
    database_bytes: int,
    dagster_bytes: int | None,
    free_bytes: int,
    disk_bytes: int,
    per_day: float | None,
    per_month: float | None,
    days_to_full: float | None,
    problems: list[str],
) -> str:
    lines = ["## Capacity", ""]
    chart = capacity_chart_png(history)
    if chart:
        lines += [f"![capacity](data:image/png;base64,{chart})", ""]
    lines += [
        f"* warehouse: **{_mb(database_bytes)} MB**, growth {_mb(per_day)} MB/day, {_mb(per_month)} MB/month",
        f"* Dagster run storage: {_mb(dagster_bytes)} MB",
        f"* free disk: {free_bytes / 1e9:,.1f} GB of {disk_bytes / 1e9:,.1f} GB"
        + (f" (full in about {days_to_full:,.0f} days at this growth)" if days_to_full is not None else ""),
        "",
    ]
    if problems:
        lines += ["**Over the configured lines:** " + "; ".join(problems), ""]
    lines += ["| table | rows | table MB | index MB | total MB |", "|---|---:|---:|---:|---:|"]
    for r in tables.sort_values("total_bytes", ascending=False).itertuples(index=False):
        lines.append(f"| {r.name} | {r.rows:,} | {_mb(r.table_bytes)} | {_mb(r.index_bytes)} | {_mb(r.total_bytes)} |")
    return "\n".join(lines) + "\n"
