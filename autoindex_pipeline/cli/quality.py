"""`autoindex quality`: the quality report, audited overrides and the audit trail."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from autoindex_pipeline.cli.common import CONFIG_OPTION, fail, load, user
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade


def _engine(config_path: str | None):
    config = load(config_path)
    engine = create_warehouse_engine(config.database_url())
    upgrade(engine)
    return config, engine


@click.group()
def quality() -> None:
    """Data quality: the report, overrides and the audit trail."""


@quality.command("report")
@CONFIG_OPTION
@click.option("--output", type=click.Path(file_okay=False), required=True, help="Folder for quality_report.html.")
def quality_report_cmd(config_path: str | None, output: str) -> None:
    """Score every symbol over the last quality.report_sessions sessions and write the HTML report."""
    from autoindex_pipeline.services.quality_report import build_quality_report

    config, engine = _engine(config_path)
    report = build_quality_report(engine, config, Path(output))
    if report is None:
        fail("no prices stored yet")
    click.echo(report.markdown)
    click.echo(f"\nportfolio score {report.portfolio_score:.4f} (gate {config.quality.min_portfolio_score}); "
               f"report: {report.html_path}")


@quality.command("override")
@click.argument("symbol")
@click.argument("date")
@click.option("--action", type=click.Choice(["exclude", "accept"]), required=True,
              help="exclude: the close is wrong, the index treats it as missing; accept: it is genuine.")
@click.option("--reason", required=True, help="Why (recorded with who and when).")
@click.option("--by", "who", default=None, help="Who (default: $USER).")
@CONFIG_OPTION
def quality_override(symbol: str, date: str, action: str, reason: str, who: str | None, config_path: str | None) -> None:
    """Record a reviewed price row; the checks stop flagging it. Raw rows are never changed."""
    from autoindex_pipeline.warehouse.overrides import set_override

    _, engine = _engine(config_path)
    try:
        set_override(engine, symbol, pd.Timestamp(date).date(), action, reason, who or user())
    except ValueError as exc:
        fail(str(exc))
    click.echo(f"{symbol.upper()} {date}: {action} (by {who or user()}: {reason}); re-materialize prices or the "
               "index for it to take effect")


@quality.command("audit")
@CONFIG_OPTION
def quality_audit_cmd(config_path: str | None) -> None:
    """Every override and repair, with who, when and why."""
    from autoindex_pipeline.warehouse.overrides import read_audit

    _, engine = _engine(config_path)
    click.echo(read_audit(engine).to_string(index=False))
