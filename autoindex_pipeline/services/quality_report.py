"""The data-quality report from the warehouse: every price check over the last
``quality.report_sessions`` sessions, per-symbol scores with colours, the session x symbol grid,
the trend, the portfolio score (the gate before allocations), stored and rendered to HTML."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.services.price_checks import WARN_ONLY, apply_overrides, read_overrides
from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain import quality
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.reporting import quality as render
from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.read import read_prices


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


def build_quality_report(engine: sa.Engine, config: AutoIndexConfig, out_dir: Path) -> QualityReport | None:
    with engine.connect() as conn:
        last = conn.execute(sa.select(sa.func.max(schema.prices.c.date))).scalar()
    if last is None:
        return None
    last = pd.Timestamp(last)
    calendar = config.prices.calendar
    recent = sessions_between(last - pd.Timedelta(days=int(config.quality.report_sessions * 1.6) + 10), last, calendar)
    sessions = recent[-config.quality.report_sessions:]
    history_sessions = recent[: -config.quality.report_sessions][-70:]
    prices = read_prices(engine, symbols=config.symbols, start=sessions[0], end=sessions[-1])
    history = read_prices(engine, symbols=config.symbols, start=history_sessions[0], end=history_sessions[-1]) if len(history_sessions) else None
    strat = config.strategies.get("default") or next(iter(config.strategies.values()))
    window = prices.loc[:, ["symbol", "date", "open", "high", "low", "close", "volume"]]
    outcomes = quality.run_price_checks(
        window, sessions, history=history, as_of=last,
        max_daily_return=strat.max_daily_return, max_forward_fill_days=strat.max_forward_fill_days,
        stale_after_sessions=config.prices.stale_after_sessions,
    )
    overrides = read_overrides(engine)
    outcomes = [apply_overrides(o, overrides) for o in outcomes]
    outcomes = [o if o.passed or o.name not in WARN_ONLY else replace(o, severity=quality.WARN) for o in outcomes]
    scores = quality.quality_scores(outcomes, symbols=config.symbols)
    score = quality.portfolio_score(scores)
    gate = quality.check_portfolio_score(scores, config.quality.min_portfolio_score)
    grid = quality.daily_quality(window, sessions, outcomes)
    trend = quality.quality_trend(grid, "W")
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = out_dir / "quality_report.html"
    html_path.write_text(render.render_html(
        scores, grid, outcomes, trend, portfolio_score=score, min_score=config.quality.min_portfolio_score,
        subtitle=f"{len(sessions)} sessions to {last.date()}, {prices['symbol'].nunique()} symbols",
    ))
    markdown = render.render_markdown(scores, outcomes, score, min_score=config.quality.min_portfolio_score)
    return QualityReport(last, len(sessions), outcomes, scores, score, gate, html_path, markdown)


def store_quality_report(engine: sa.Engine, report: QualityReport) -> int:
    """Replace the scores of this as-of date and append the portfolio score to the trend."""
    now = dt.datetime.now(dt.UTC)
    as_of = report.as_of.date()
    rows = [
        {"as_of": as_of, "symbol": r.symbol, "score": None if pd.isna(r.score) else float(r.score),
         "colour": r.colour, "worst_check": None if pd.isna(r.worst_check) else str(r.worst_check), "computed_at": now}
        for r in report.scores.itertuples(index=False)
    ]
    failed = [o.name for o in report.outcomes if not o.passed]
    with engine.begin() as conn:
        conn.execute(schema.quality_scores.delete().where(schema.quality_scores.c.as_of == as_of))
        conn.execute(schema.quality_scores.insert(), rows)
        conn.execute(schema.quality_runs.delete().where(schema.quality_runs.c.as_of == as_of))
        conn.execute(schema.quality_runs.insert().values(
            as_of=as_of, sessions=report.sessions, portfolio_score=float(report.portfolio_score),
            red=int((report.scores["colour"] == "red").sum()), yellow=int((report.scores["colour"] == "yellow").sum()),
            green=int((report.scores["colour"] == "green").sum()), failed_checks=", ".join(failed), computed_at=now,
        ))
    return len(rows)
