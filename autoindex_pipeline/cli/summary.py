"""The summary printed after `autoindex demo` / `autoindex run`: what is in the warehouse and how
good it is, from stored results only (counts, date ranges, the newest quality report, the news
aggregate, the index rows), never by loading the prices table."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pandas as pd

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain import metrics
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.domain.quality import ERROR, WARN
from autoindex_pipeline.warehouse import summary as stored
from autoindex_pipeline.warehouse.engine import create_warehouse_engine, safe_url


def summary_text(config: AutoIndexConfig, elapsed: float | None = None) -> str:
    engine = create_warehouse_engine(config.database_url())
    stats = stored.table_stats(engine)
    lines = ["", "AutoIndex summary", "=" * 60]
    lines.append(f"warehouse        {safe_url(config.database_url())}")
    for table, stat in stats.items():
        span = f"  {stat.first} .. {stat.last}" if stat.first is not None else ""
        lines.append(f"  {table:<32}{stat.rows:>12,} rows{span}")
    prices = stats.get("prices")
    if prices is None or not prices.rows:
        lines.append("no prices stored yet")
        return "\n".join(lines)
    lines.extend(price_lines(engine, config, prices))
    lines.extend(quality_report_lines(engine, config))
    lines.extend(news_summary_lines(engine, stats))
    if stats.get("index_values", stored.TableStats(0)).rows:
        lines.extend(index_summary_lines(engine, config))
    if elapsed is not None:
        lines.append(f"elapsed          {elapsed:.1f} s")
    lines.append("next")
    home = os.environ.get("DAGSTER_HOME") or str(config.data_dir / "dagster_home")
    lines.append(f"  UI             DAGSTER_HOME={home} {_script('dagster')} dev  ->  http://127.0.0.1:3000")
    lines.append(f"  export         {_script('autoindex')} export prices --format csv --output prices.csv")
    return "\n".join(lines)


def _script(name: str) -> str:
    """The command as it can be typed here: beside this interpreter (a venv's bin/, which is
    often not on PATH: the README's `.venv/bin/...`), else the bare name."""
    beside = Path(sys.executable).parent / name
    if beside.exists() and shutil.which(name) != str(beside):
        return os.path.relpath(beside) if not os.path.relpath(beside).startswith("..") else str(beside)
    return name


def price_lines(engine, config: AutoIndexConfig, prices: stored.TableStats) -> list[str]:
    """Symbols, range and coverage: each symbol's stored rows over the range's sessions. The
    completeness *check* (per month of each symbol's active range) is printed with the other
    checks, in its own words and figures (:func:`quality_report_lines`)."""
    sessions = sessions_between(prices.first, prices.last, config.prices.calendar)
    per_symbol = stored.rows_per_symbol(engine, "prices")
    coverage = (per_symbol / max(len(sessions), 1)).clip(upper=1.0)
    short = coverage[coverage < 1.0].sort_values()
    lines = [
        f"prices           {len(per_symbol)} symbols, {prices.first} .. {prices.last} ({len(sessions)} sessions)",
        f"market cap       shares outstanding for {stored.distinct_symbols(engine, 'market_cap_data')} symbols",
        "quality",
        f"  coverage       rows / sessions of the range: mean {coverage.mean():.4f}, min {coverage.min():.4f}"
        + (f" ({len(short)} symbols short, e.g. " + ", ".join(f"{s} {v:.3f}" for s, v in short.head(5).items())
           + "; listed later or delisted symbols are short by design)" if len(short) else ""),
    ]
    return lines


def quality_report_lines(engine, config: AutoIndexConfig) -> list[str]:
    """The newest quality report: portfolio score vs the gate, red symbols, each check that did
    not pass with its own figures (observed vs threshold, offending rows) under its severity
    (ERROR = blocking, WARN = a warning that stops nothing), overrides in force."""
    latest = stored.latest_quality_run(engine)
    if latest is None:
        return []
    red = stored.red_symbols(engine, latest["as_of"])
    n_overrides, overrides = stored.recent_overrides(engine, limit=5)
    gate = "passes" if latest["portfolio_score"] >= config.quality.min_portfolio_score else "FAILS"
    lines = [
        f"  report         portfolio score {latest['portfolio_score']:.4f} ({gate} the {config.quality.min_portfolio_score} gate), "
        f"{latest['green']} green / {latest['yellow']} yellow / {latest['red']} red over {latest['sessions']} sessions to {latest['as_of']}",
        f"  red symbols    {', '.join(red[:10]) or 'none'}" + (f" (+{len(red) - 10})" if len(red) > 10 else ""),
    ]
    lines.extend(check_lines(stored.quality_run_checks(engine, latest["as_of"]), latest["failed_checks"]))
    lines.extend([
        f"  overrides      {n_overrides}" + (": " + ", ".join(f"{r.symbol} {r.date} {r.action}" for r in overrides.itertuples()) if n_overrides else ""),
        f"  HTML report    {config.data_dir / 'reports' / 'quality' / 'quality_report.html'}",
    ])
    return lines


def check_lines(checks: pd.DataFrame, failed_names: str) -> list[str]:
    """The checks that did not pass, errors apart from warnings, each as the check reports it."""
    if checks.empty:  # a report stored before the per-check figures existed: names only
        return [f"  not passed     {failed_names or 'none'}"]
    failed = checks[~checks["passed"].astype(bool)]
    lines = []
    for severity, label in ((ERROR, "errors"), (WARN, "warnings")):
        rows = failed[failed["severity"] == severity]
        lines.append(f"  {label:<15}{len(rows)}" + (" (blocking)" if severity == ERROR and len(rows) else "")
                     + ("" if len(rows) else ": none"))
        for r in rows.itertuples(index=False):
            lines.append(f"    {r.check_name:<22}{_check_figures(r)}")
    return lines


def _check_figures(r) -> str:
    threshold = "" if pd.isna(r.threshold) else f" vs threshold {_num(r.threshold)}"
    overridden = f", {int(r.overridden)} overridden" if r.overridden else ""
    return f"{r.severity}: observed {_num(r.observed)}{threshold}, {int(r.offending):,} offending of {int(r.evaluated):,} evaluated{overridden}"


def _num(value) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    return f"{int(value)}" if float(value).is_integer() else f"{value:.4g}"


def news_summary_lines(engine, stats: dict[str, stored.TableStats], top: int = 5) -> list[str]:
    """Articles, symbols covered, mean sentiment and the newest day's top movers."""
    from autoindex_pipeline.warehouse.news import read_top_movers

    news = stored.sentiment_stats(engine)
    if news is None:
        return []
    live, archived = stats["news_articles"].rows, stats["news_articles_archive"].rows
    lines = ["news and sentiment"]
    lines.append(f"  days           {news.first} .. {news.last} ({news.days} days with news)")
    lines.append(f"  articles       {live:,} live, {archived:,} archived; "
                 f"{news.scores:,} (article, symbol) scores; {news.symbols} symbols covered")
    lines.append(f"  mean sentiment {news.mean_score:+.3f}  "
                 f"(positive {news.share_positive:.0%}, negative {news.share_negative:.0%})")
    movers = read_top_movers(engine, news.last, news.last, per_day=top)
    if len(movers):
        lines.append(f"  top movers on {news.last}")
        for row in movers.itertuples(index=False):
            title = " ".join(str(row.title).split())
            title = title if len(title) <= 60 else title[:59] + "…"
            lines.append(f"    {row.symbol:<6}{row.mean_score:+.2f} over {row.article_count} article(s); "
                         f"\"{title}\" ({row.source}, {row.score:+.2f} {row.model})")
    return lines


def index_summary_lines(engine, config: AutoIndexConfig) -> list[str]:
    """Final level and headline metrics of each strategy's current version, total return and
    price return (methodology section 2a: the same targets, dividends reinvested or not), each
    followed by the benchmark over that strategy's own sessions (strategies start on different
    dates: one benchmark figure from one start would misstate the others)."""
    lines = ["index (base 100; the level is the total return, dividends reinvested)"]
    lines.append(f"  {'':<34}{'level':>9}{'total':>9}{'CAGR':>8}{'Sharpe':>8}{'max DD':>9}")
    for name, strat in config.strategies.items():
        rows = stored.index_rows(engine, name, strat.version)
        if rows.empty:
            continue
        returns = rows["daily_return"].iloc[1:]
        lines.append(_metric_line(f"{name} (from {rows['date'].iloc[0]})", rows["level"].iloc[-1], returns, strat.risk_free_rate))
        bench = rows["benchmark_level"]
        if bench.notna().any():
            level = 100.0 * bench.dropna().iloc[-1] / bench.dropna().iloc[0]
            lines.append(_metric_line(f"  {config.universe.benchmark} over the same sessions", level,
                                      rows["benchmark_return"].iloc[1:], strat.risk_free_rate))
        # The price-return level from the same targets (no dividends); absent on rows computed
        # before it existed.
        if rows["price_level"].notna().all():
            lines.append(_metric_line("  price return (no dividends)", rows["price_level"].iloc[-1],
                                      rows["price_daily_return"].iloc[1:], strat.risk_free_rate))
    lines.extend(corporate_action_lines(engine, config))
    return lines


def corporate_action_lines(engine, config: AutoIndexConfig) -> list[str]:
    """The recorded corporate actions, and each split inside the first strategy's history with
    the index's move that session: a known split never moves the index (section 2a)."""
    from autoindex_pipeline.warehouse.corporate_actions import read_corporate_actions

    events = read_corporate_actions(engine, symbols=config.symbols)
    if events.empty:
        return []
    splits, dividends = events[events["kind"] == "split"], events[events["kind"] == "dividend"]
    lines = [f"corporate actions {len(splits)} split(s) of {splits['symbol'].nunique()} symbol(s), "
             f"{len(dividends)} dividend(s) of {dividends['symbol'].nunique()} symbol(s), applied to both levels"]
    name, strat = next(iter(config.strategies.items()))
    rows = stored.index_rows(engine, name, strat.version)
    if rows.empty:
        return lines
    moves = rows.assign(date=pd.to_datetime(rows["date"])).set_index("date")["daily_return"]
    for row in splits[splits["ex_date"].isin(moves.index)].itertuples(index=False):
        label = f"{row.ratio:g}:1" if row.ratio >= 1 else f"1:{1 / row.ratio:g}"
        lines.append(f"  {row.symbol} {label} split on {row.ex_date.date()}: {name} moved {moves.loc[row.ex_date]:+.2%} that session")
    return lines


def _metric_line(label: str, level: float, returns: pd.Series, rf: float) -> str:
    def pct(x: float) -> str:
        return "n/a" if pd.isna(x) else f"{x:.1%}"

    sharpe = metrics.sharpe(returns, rf)
    return (
        f"  {label:<34}{level:>9.2f}{pct(level / 100 - 1):>9}{pct(metrics.cagr(returns)):>8}"
        f"{'n/a' if pd.isna(sharpe) else f'{sharpe:.2f}':>8}{pct(metrics.max_drawdown(returns)):>9}"
    )
