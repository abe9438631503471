"""The data-quality report from the warehouse: every price check over the last
``quality.report_sessions`` sessions, per-symbol scores with colours, the session x symbol grid,
the trend, the portfolio score (the gate before allocations), the validation rate per session
(rows passing every blocking rule / rows checked, domain/quality/validation.py), stored and
rendered to HTML."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain import quality
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.domain.quality.validation import DAILY_COLUMNS, check_validation_rate, daily_validation, window_rate
from autoindex_pipeline.reporting import quality as render
from autoindex_pipeline.reporting.charts import trend_png
from autoindex_pipeline.services.price_checks import evaluate_window
from autoindex_pipeline.warehouse.gate import read_open_verdicts
from autoindex_pipeline.warehouse.quality import latest_price_date, replace_quality_report
from autoindex_pipeline.warehouse.read import read_prices

if TYPE_CHECKING:  # the engine is only passed through to the warehouse
    import sqlalchemy as sa


@dataclass
class QualityReport:
    as_of: pd.Timestamp
    sessions: int
    outcomes: list[quality.CheckOutcome]
    scores: pd.DataFrame
    portfolio_score: float
    gate: quality.CheckOutcome
    html_path: Path
    markdown: str
    validation: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DAILY_COLUMNS))
    """Per session: rows checked, rows passing every blocking rule, their ratio."""
    validation_check: quality.CheckOutcome | None = None
    trend_image: str = ""
    """The weekly trend as a Markdown image with a ``data:`` URI ('' with fewer than two weeks):
    the UI shows it inside the asset's page, where the HTML report is only a path."""


def build_quality_report(engine: sa.Engine, config: AutoIndexConfig, out_dir: Path) -> QualityReport | None:
    last = latest_price_date(engine)
    if last is None:
        return None
    calendar = config.prices.calendar
    n = config.quality.report_sessions
    # 1.6 calendar days per session (plus ten) always holds n sessions.
    sessions = sessions_between(last - pd.Timedelta(days=int(n * 1.6) + 10), last, calendar)[-n:]
    prices = read_prices(engine, symbols=config.symbols, start=sessions[0], end=sessions[-1])
    window = prices.loc[:, ["symbol", "date", "open", "high", "low", "close", "volume"]]
    outcomes, _ = evaluate_window(engine, config, sessions[0], sessions[-1], frame=window)
    scores = quality.quality_scores(outcomes, symbols=config.symbols)
    score = quality.portfolio_score(scores)
    gate = quality.check_portfolio_score(scores, config.quality.min_portfolio_score)
    grid = quality.daily_quality(window, sessions, outcomes)
    daily = daily_validation(window, outcomes, read_open_verdicts(engine, sessions[0].date(), sessions[-1].date()), sessions)
    validation = check_validation_rate(daily, config.quality.min_validation_rate)
    trend = quality.quality_trend(grid, "W")
    # Drawn once, for the page and for the UI.
    trend_png_b64 = trend_png(trend) if len(trend) > 1 else ""
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / "quality_report.html"
    html_path.write_text(render.render_html(
        scores, grid, [*outcomes, validation], trend, portfolio_score=score, min_score=config.quality.min_portfolio_score,
        subtitle=f"{len(sessions)} sessions to {last.date()}, {prices['symbol'].nunique()} symbols",
        validation=daily, min_validation_rate=config.quality.min_validation_rate, trend_image=trend_png_b64 or None,
    ))
    markdown = render.render_markdown(scores, outcomes, score, min_score=config.quality.min_portfolio_score)
    markdown += "\n" + render.render_validation_markdown(daily, config.quality.min_validation_rate)
    trend_image = f"![quality trend](data:image/png;base64,{trend_png_b64})" if trend_png_b64 else ""
    return QualityReport(last, len(sessions), outcomes, scores, score, gate, html_path, markdown, daily, validation, trend_image)


def store_quality_report(engine: sa.Engine, report: QualityReport) -> int:
    """Replace the scores of this as-of date and append the portfolio score to the trend."""
    now = dt.datetime.now(dt.UTC)
    rows = [
        {"symbol": r.symbol, "score": None if pd.isna(r.score) else float(r.score),
         "colour": r.colour, "worst_check": None if pd.isna(r.worst_check) else str(r.worst_check), "computed_at": now}
        for r in report.scores.itertuples(index=False)
    ]
    colours = report.scores["colour"]
    run = {
        "sessions": report.sessions, "portfolio_score": float(report.portfolio_score),
        "red": int((colours == "red").sum()), "yellow": int((colours == "yellow").sum()), "green": int((colours == "green").sum()),
        "failed_checks": ", ".join(o.name for o in report.outcomes if not o.passed), "computed_at": now,
    }
    checks = [
        {"check_name": o.name, "severity": o.severity, "passed": bool(o.passed),
         "observed": _finite(o.observed), "threshold": _finite(o.threshold), "offending": o.offending_count,
         "evaluated": int(o.evaluated), "overridden": int(o.details.get("overridden_rows", 0))}
        for o in [*report.outcomes, *([report.validation_check] if report.validation_check is not None else [])]
    ]
    return replace_quality_report(engine, report.as_of.date(), rows, run, checks)


def _finite(value: float | None) -> float | None:
    return None if value is None or pd.isna(value) or abs(float(value)) == float("inf") else float(value)


def validation_metadata(daily: pd.DataFrame, sessions: int = 20) -> dict[str, object]:
    """Flat figures for the asset's metadata: the window's validation rate, the newest
    session's, and the rate of each of the last ``sessions`` sessions (JSON)."""
    scored = daily[daily["checked"] > 0]
    rate = window_rate(scored)
    return {
        "validation_rate": float("nan") if rate is None else round(rate, 6),
        "validation_rate_newest_session": round(float(scored["rate"].iloc[-1]), 6) if len(scored) else float("nan"),
        "validation_rate_per_session": [
            {"session": str(pd.Timestamp(r.date).date()), "checked": int(r.checked), "passed": int(r.passed),
             "rate": round(float(r.rate), 6)}
            for r in scored.tail(sessions).itertuples(index=False)
        ],
    }
