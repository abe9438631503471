"""What every command shares: config loading, errors as one short message and exit code 2 (the
traceback only with ``autoindex --verbose``), and a failed or blocked run reported as what
failed, where, and the command that settles it."""

from __future__ import annotations

import datetime as dt
import os
import sys
import traceback

import click
import pandas as pd

from autoindex_pipeline.config import AutoIndexConfig, ConfigError, load_config

CONFIG_OPTION = click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                             help="autoindex.yaml to use.")
SHOWN_ROWS = 5
EXIT_SIGTERM = 143


class Settings:
    """Set by the group's options for the command being run."""

    verbose = False
    config_path: str | None = None


def fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


def load(config_path: str | None) -> AutoIndexConfig:
    Settings.config_path = config_path
    try:
        return load_config(config_path)
    except ConfigError as exc:
        fail(str(exc))
        raise  # unreachable; keeps type checkers honest


def parse_date(value: str | None, option: str = "date") -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        try:
            return pd.Timestamp(value).date()
        except (ValueError, TypeError):
            fail(f"{option} {value!r} is not a date; write it as YYYY-MM-DD, e.g. {option} 2025-06-02")
            raise  # unreachable


def parse_timestamp(value: str, option: str = "timestamp") -> pd.Timestamp:
    """An ISO timestamp as UTC (a date or a naive time is taken as UTC)."""
    try:
        stamp = pd.Timestamp(value.strip())
    except (ValueError, TypeError):
        stamp = pd.NaT
    if pd.isna(stamp):
        fail(f"{option} {value!r} is not a timestamp; write it as ISO 8601, e.g. {option} 2025-06-02T21:30:00Z")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def user() -> str:
    return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


# ---------------------------------------------------------------- errors outside a run


class AutoIndexGroup(click.Group):
    """Turns an unexpected exception into one short message; ``--verbose`` adds the traceback."""

    def invoke(self, ctx: click.Context):
        from autoindex_pipeline.cli.runs import RunTerminated

        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except RunTerminated as exc:
            click.secho(f"error: run {exc.run_id} {exc.status} (interrupted: SIGTERM or Ctrl-C): its pool slots are freed; "
                        "run the same command again to finish its work", fg="red", err=True)
            sys.exit(EXIT_SIGTERM)
        except Exception as exc:
            if Settings.verbose:
                traceback.print_exc(file=sys.stderr)
            fail(explain(exc) + ("" if Settings.verbose else "\n(run `autoindex --verbose ...` for the traceback)"))


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _first_line(text: object) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def explain(exc: BaseException) -> str:
    """What went wrong, where, and what to do, in a line or two. Database errors are known by
    their DB-API name (SQLAlchemy's wrapper carries the driver's as ``orig``): the CLI imports
    no SQL library."""
    for link in _chain(exc):
        orig = getattr(link, "orig", None)
        driver_error = orig if orig is not None else link
        if type(driver_error).__name__ != "OperationalError" and type(link).__name__ != "OperationalError":
            continue
        cause = _first_line(driver_error)
        if type(driver_error).__module__ == "sqlite3":
            # A local file: locked by another writer, or damaged; not a server that is down.
            return (f"the SQLite database failed: {cause}\n  warehouse: {_warehouse_url()}; Dagster storage: "
                    f"{_dagster_storage()}\n  another command may be writing to it: wait for it and retry")
        return (f"cannot reach the database: {cause}\n"
                f"  warehouse: {_warehouse_url()}; Dagster storage: {_dagster_storage()}\n"
                "  is the server running and the URL right? (storage.database_url / $AUTOINDEX_DATABASE_URL "
                "for the warehouse, $DAGSTER_HOME/dagster.yaml for Dagster)")
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _warehouse_url() -> str:
    from autoindex_pipeline.warehouse.engine import safe_url

    try:
        return safe_url(load_config(Settings.config_path).database_url())
    except Exception:  # the config may be what is broken
        return "(unknown)"


def _dagster_storage() -> str:
    host = os.environ.get("DAGSTER_PG_HOST")
    if host:
        return f"PostgreSQL at {host}:{os.environ.get('DAGSTER_PG_PORT', '5432')}"
    return f"$DAGSTER_HOME={os.environ.get('DAGSTER_HOME', '<data_dir>/dagster_home')}"


# ---------------------------------------------------------------- failed and blocked runs


def report_run(result) -> None:
    """Nothing when the run succeeded; else each failed step once (its cause, not Dagster's
    wrapper), the blocking checks with their first offending rows and the commands that settle
    them, and exit 2."""
    if result.success:
        return
    blocked = blocked_lines(result)
    seen: set[str] = set()
    for event in result.get_step_failure_events():
        error = getattr(event.event_specific_data, "error", None)
        if blocked and getattr(error, "cls_name", None) == "DagsterAssetCheckFailedError":
            seen.add("blocked")  # said better below, with the rows
            continue
        message = _step_failure(event)
        if message not in seen:
            seen.add(message)
            click.secho(f"step {event.step_key} failed: {message}", fg="red", err=True)
    if not seen:
        run_failure = result.get_run_failure_event()
        data = run_failure.event_specific_data if run_failure is not None else None
        error = getattr(data, "error", None)
        cause = _innermost(error) if error is not None else _first_line(run_failure.message if run_failure else "")
        click.secho(f"the run failed before any step: {cause}", fg="red", err=True)
    for line in blocked:
        click.secho(line, fg="red", err=True)
    fail(f"run {result.run_id} failed; its full log is in the UI (Runs) "
         f"or `dagster debug export {result.run_id} run.gz`")


def _step_failure(event) -> str:
    data = event.event_specific_data
    description = getattr(getattr(data, "user_failure_data", None), "description", None)
    if description:
        return description.strip()
    error = getattr(data, "error", None)
    if error is None:
        return _first_line(event.message)
    if Settings.verbose:
        return error.to_string().strip()
    return _innermost(error)


def _innermost(error) -> str:
    """The first line of the deepest cause: Dagster wraps a step's exception in its own."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return _first_line(error.message)


def blocked_lines(result) -> list[str]:
    """Failed ERROR checks of the run: which, the first offending rows, how to settle them."""
    import dagster as dg

    lines: list[str] = []
    cells: dict[tuple[str, str], None] = {}
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed or evaluation.severity != dg.AssetCheckSeverity.ERROR:
            continue
        meta = evaluation.metadata
        count = getattr(meta.get("offending_count"), "value", "?")
        rule = getattr(meta.get("rule"), "value", "") or evaluation.description or ""
        lines.append(f"blocked: check {evaluation.check_name} on {evaluation.asset_key.to_user_string()} found "
                     f"{count} offending row(s) ({rule})")
        rows = _offending_rows(getattr(meta.get("offending_rows"), "md_str", ""))
        for row in rows[:SHOWN_ROWS]:
            lines.append("  " + ", ".join(f"{k} {v}" for k, v in row.items() if k in ("symbol", "date", "value", "reason")))
            if "symbol" in row and "date" in row:
                cells[(row["symbol"], row["date"])] = None
    for symbol, date in list(cells)[:SHOWN_ROWS]:
        lines.append(f"settle {symbol} {date}: re-fetch it with `autoindex run --refresh targeted --symbols {symbol} "
                     f"--start {date} --end {date}`, or once reviewed `autoindex quality override {symbol} {date} "
                     "--action exclude|accept --reason \"...\"`")
    return lines


def _offending_rows(markdown: str) -> list[dict[str, str]]:
    """The rows of the check's markdown table (``| symbol | date | value | reason | ... |``)."""
    table = [line.strip().strip("|").split("|") for line in str(markdown).splitlines() if line.strip().startswith("|")]
    if len(table) < 3:
        return []
    header = [h.strip().lower() for h in table[0]]
    return [dict(zip(header, (c.strip() for c in row), strict=False)) for row in table[2:]]


# ---------------------------------------------------------------- a held index


def held_lines(result) -> list[str]:
    """When the index stopped at the last complete session: which sessions wait, for which
    closes (the gate's own words, from the index_values metadata), and the three commands that
    settle a missing close."""
    lines: list[str] = []
    for materialization in _index_values(result):
        meta = materialization.metadata
        if "held_from" not in meta:
            continue
        held_from = meta["held_from"].value
        reason = meta.get("held_reason")
        lines.append(f"held: the index stops before {held_from}, the first incomplete session: "
                     f"{reason.value if reason is not None else ''}")
        named = meta.get("held_symbols")
        symbols = ([s for s in named.value.split(",") if s] if named is not None else []) or \
            _lacking(reason.value if reason is not None else "") or ["SYMBOL"]
        listed = ",".join(symbols)
        first = symbols[0]
        lines.extend([
            "  settle each missing close, then run the index again (autoindex run --select index_values):",
            f"  re-fetch it:       autoindex run --refresh targeted --symbols {listed} --start {held_from} --end {held_from}",
            f"  known absence:     autoindex quality absent {first} --from {held_from} --kind halt|delisted|no_data "
            "--reason \"...\"",
            f"  wrong close:       autoindex quality override {first} {held_from} --action exclude --reason \"...\"",
        ])
    return lines


def _index_values(result) -> list:
    import dagster as dg

    return [
        event.event_specific_data.materialization
        for event in result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey("index_values")
    ]


def _lacking(reason: str) -> list[str]:
    """The symbols the gate names in "<date> lacks the close of A, B and 3 more" (first strategy)."""
    import re

    match = re.search(r"lacks the close of (.+?)(?: and \d+ more)?(?:;|$)", reason)
    return [s.strip() for s in match.group(1).split(",") if s.strip()] if match else []
