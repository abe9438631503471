"""`autoindex quality`: the quality report, audited overrides and the audit trail."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from autoindex_pipeline.cli.common import CONFIG_OPTION, fail, load, parse_date, user
from autoindex_pipeline.cli.runner import warehouse_engine
from autoindex_pipeline.warehouse.gate import ABSENCE_KINDS


def _engine(config_path: str | None):
    config = load(config_path)
    return config, warehouse_engine(config)


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
        set_override(engine, symbol, parse_date(date, "DATE"), action, reason, who or user())
    except ValueError as exc:
        fail(str(exc))
    click.echo(f"{symbol.upper()} {date}: {action} (by {who or user()}: {reason}); re-materialize prices or the "
               "index for it to take effect")


@quality.command("absent")
@click.argument("symbol")
@click.option("--from", "date_from", required=True, help="First session without a close (YYYY-MM-DD).")
@click.option("--to", "date_to", default=None, help="Last such session (default: open-ended for delisted, else --from).")
@click.option("--kind", type=click.Choice(ABSENCE_KINDS), required=True,
              help="halt: trading halted; delisted: no longer trades; no_data: the provider has no row for it.")
@click.option("--reason", required=True, help="Why (recorded with who and when).")
@click.option("--by", "who", default=None, help="Who (default: $USER).")
@CONFIG_OPTION
def quality_absent(symbol: str, date_from: str, date_to: str | None, kind: str, reason: str, who: str | None,
                   config_path: str | None) -> None:
    """Record a known absence: the quality gate stops waiting for SYMBOL's close on those sessions."""
    from autoindex_pipeline.warehouse.gate import record_absence

    config, engine = _engine(config_path)
    if symbol.upper() not in config.symbols:
        fail(f"{symbol.upper()} is not in the universe ({len(config.symbols)} symbols, universe.file / universe.symbols)")
    first = parse_date(date_from, "--from")
    last = parse_date(date_to, "--to") if date_to is not None else (None if kind == "delisted" else first)
    try:
        record_absence(engine, symbol, first, last, kind, reason, who or user())
    except ValueError as exc:
        fail(str(exc))
    span = f"from {first} on" if last is None else f"{first}" if last == first else f"{first} .. {last}"
    click.echo(f"{symbol.upper()} {kind} {span} (by {who or user()}: {reason}); the index takes it into account "
               "on its next run (autoindex run --select index_values)")


@quality.command("audit")
@CONFIG_OPTION
def quality_audit_cmd(config_path: str | None) -> None:
    """Every override, repair and recorded absence, with who, when and why."""
    from autoindex_pipeline.warehouse.gate import read_absences
    from autoindex_pipeline.warehouse.overrides import read_audit

    _, engine = _engine(config_path)
    click.echo(read_audit(engine).to_string(index=False))
    absences = read_absences(engine)
    click.echo(f"\nknown absences ({len(absences)})")
    if len(absences):
        shown = absences.assign(
            date_from=absences["date_from"].dt.date,
            date_to=absences["date_to"].map(lambda d: "open-ended" if pd.isna(d) else d.date()),
        )
        columns = [c for c in ("symbol", "kind", "date_from", "date_to", "reason", "created_by", "created_at") if c in shown]
        click.echo(shown.loc[:, columns].to_string(index=False))
