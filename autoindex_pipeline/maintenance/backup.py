"""Back up the PostgreSQL warehouse and prove the backup restores.

:func:`backup_and_verify` is the monthly restore test of the seeds ("a backup you have not
restored is not a backup"), automated end to end:

1. check the client tools: ``pg_dump`` / ``pg_restore`` must exist, be the same major version,
   and be at least the server's major version (an older ``pg_dump`` refuses a newer server);
2. ``pg_dump --format=custom`` of the warehouse into ``workdir`` (the dump is kept: it is the
   backup);
3. drop and create the scratch database (``TEMPLATE template0``), ``pg_restore`` into it;
4. per table, compare the row count and a checksum computed in SQL on both sides:
   ``md5(string_agg(md5(row::text), '' ORDER BY <primary key>))`` with fixed session settings
   (UTC, ISO dates, shortest-exact floats) so the text of a row is the same on both sides;
5. drop the scratch database, whatever happened.

Secrets: a password in a URL goes to the tools through ``PGPASSWORD`` in the subprocess
environment, never on the command line (visible in ``ps``) nor in the report, whose database
names are shown as ``user@host:port/db``. Tool output quoted in errors is redacted.

Operational failures (missing tool, version mismatch, a failed dump or restore) raise
:class:`BackupError`; a restored copy that differs is *not* an exception but a report with
``match = False`` (the caller turns that into a failed check and an alert).

The targets and tools are :mod:`autoindex_pipeline.maintenance.postgres`; the fingerprints and
the report :mod:`autoindex_pipeline.maintenance.fingerprint`. This module runs the steps.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from autoindex_pipeline.maintenance.fingerprint import (
    BackupReport,
    TableCheck,
    TableFingerprint,
    fingerprints,
    list_tables,
)
from autoindex_pipeline.maintenance.postgres import (
    BackupError,
    PgTarget,
    check_database_name,
    find_pg_tool,
    run_tool,
    server_version,
    tool_version,
)
from autoindex_pipeline.providers.http import redact

__all__ = [
    "BackupError",
    "BackupReport",
    "DumpResult",
    "PgTarget",
    "TableCheck",
    "backup_and_verify",
    "dump_database",
    "prune_dumps",
]

logger = logging.getLogger(__name__)

# Databases a restore test must never drop, whatever the scratch URL says.
_PROTECTED_DATABASES = frozenset({"postgres", "template0", "template1"})


@dataclass(frozen=True)
class DumpResult:
    path: Path
    bytes: int
    seconds: float
    pg_dump_version: str
    server_version: str


def _check_versions(source: PgTarget, pg_dump: Path, pg_restore: Path | None) -> tuple[str, str]:
    dump_major, dump_full = tool_version(pg_dump)
    try:
        srv_major, srv_full = server_version(source)
    except psycopg.Error as exc:
        raise BackupError(f"cannot connect to {source.display()}: {redact(str(exc).strip(), source.secrets())}") from None
    if dump_major < srv_major:
        raise BackupError(
            f"version mismatch: pg_dump {dump_full} cannot dump a PostgreSQL {srv_full} server; install the "
            f"PostgreSQL {srv_major} client tools (postgresql-client-{srv_major}) or pass pg_bin_dir"
        )
    if pg_restore is not None:
        restore_major, restore_full = tool_version(pg_restore)
        if restore_major != dump_major:
            raise BackupError(
                f"version mismatch: pg_restore {restore_full} and pg_dump {dump_full} come from different "
                f"PostgreSQL releases; use the tools of one installation"
            )
    return dump_full, srv_full


def dump_database(
    database_url: str,
    workdir: str | os.PathLike[str],
    *,
    pg_bin_dir: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    now: dt.datetime | None = None,
) -> DumpResult:
    """``pg_dump --format=custom`` of the database into ``workdir/<db>_<UTC stamp>.dump``."""
    source = PgTarget.from_url(database_url)
    pg_dump = find_pg_tool("pg_dump", pg_bin_dir)
    dump_version, srv_version = _check_versions(source, pg_dump, None)
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{source.database}_{stamp}.dump"
    t0 = time.perf_counter()
    run_tool(
        [str(pg_dump), "--format=custom", "--no-password", f"--file={path}"],
        source.env(),
        source.secrets(),
        "pg_dump",
        timeout,
    )
    return DumpResult(path, path.stat().st_size, time.perf_counter() - t0, dump_version, srv_version)


def _recreate(target: PgTarget, maintenance_db: str, create: bool) -> None:
    with target.connect(database=maintenance_db, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target.database)))
        if create:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(target.database)))


def backup_and_verify(
    database_url: str,
    scratch_database_url: str,
    tables: Sequence[str] | None = None,
    workdir: str | os.PathLike[str] = ".",
    *,
    keep_dump: bool = True,
    before_verify: Callable[[str], None] | None = None,
    pg_bin_dir: str | os.PathLike[str] | None = None,
    maintenance_db: str = "postgres",
    jobs: int = 1,
    timeout: float | None = None,
    now: dt.datetime | None = None,
) -> BackupReport:
    """Dump ``database_url``, restore it into ``scratch_database_url`` (dropped and created
    first, dropped again at the end) and compare ``tables`` (``schema.table`` or ``table``;
    None = every table of the source) by row count and checksum.

    ``before_verify(scratch_database_url)`` runs after the restore and before the comparison:
    a drill or a test can tamper with the restored copy to prove a difference is caught.
    ``maintenance_db`` is where ``CREATE/DROP DATABASE`` are issued on the scratch server.
    Raises :class:`BackupError` when the work cannot be done; returns the report otherwise.
    """
    source = PgTarget.from_url(database_url)
    scratch = PgTarget.from_url(scratch_database_url)
    check_database_name(source.database, "source")
    check_database_name(scratch.database, "scratch")
    if scratch.same_database_as(source):
        raise BackupError("the scratch database must not be the source database (it is dropped and recreated)")
    if scratch.database in _PROTECTED_DATABASES or scratch.database == maintenance_db:
        raise BackupError(f"refusing to use {scratch.database!r} as the scratch database")
    pg_dump = find_pg_tool("pg_dump", pg_bin_dir)
    pg_restore = find_pg_tool("pg_restore", pg_bin_dir)
    _check_versions(source, pg_dump, pg_restore)
    scratch_major, _ = server_version(scratch.with_database(maintenance_db))
    source_major, _ = server_version(source)
    if scratch_major < source_major:
        raise BackupError(
            f"version mismatch: the scratch server runs PostgreSQL {scratch_major}, older than the source's {source_major}"
        )

    started = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    durations: dict[str, float] = {}
    t_total = time.perf_counter()
    dump = dump_database(database_url, workdir, pg_bin_dir=pg_bin_dir, timeout=timeout, now=now)
    durations["dump"] = dump.seconds
    logger.info("backup: dumped %s to %s (%d bytes)", source.display(), dump.path, dump.bytes)

    dropped = False
    try:
        t0 = time.perf_counter()
        _recreate(scratch, maintenance_db, create=True)
        run_tool(
            [
                str(pg_restore),
                "--no-password",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                f"--jobs={max(1, int(jobs))}",
                f"--dbname={scratch.database}",
                str(dump.path),
            ],
            scratch.env(),
            scratch.secrets(),
            "pg_restore",
            timeout,
        )
        durations["restore"] = time.perf_counter() - t0
        logger.info("backup: restored into %s", scratch.display())

        if before_verify is not None:
            before_verify(scratch_database_url)

        t0 = time.perf_counter()
        if tables is None:
            with source.connect() as conn:
                tables = list_tables(conn)
        wanted = list(tables)
        left = fingerprints(source, wanted)
        right = fingerprints(scratch, wanted)
        checks = []
        for table in wanted:
            a, b = left[table], right[table]
            error = None
            if isinstance(a, str):
                error = f"source: {a}"
            elif isinstance(b, str):
                error = f"restored: {b}"
            checks.append(
                TableCheck(
                    table=table,
                    source_rows=a.rows if isinstance(a, TableFingerprint) else None,
                    restored_rows=b.rows if isinstance(b, TableFingerprint) else None,
                    source_checksum=a.checksum if isinstance(a, TableFingerprint) else None,
                    restored_checksum=b.checksum if isinstance(b, TableFingerprint) else None,
                    order_by=a.order_by if isinstance(a, TableFingerprint) else (),
                    error=error,
                )
            )
        durations["verify"] = time.perf_counter() - t0
    finally:
        try:
            _recreate(scratch, maintenance_db, create=False)
            dropped = True
        except psycopg.Error as exc:
            problem = redact(str(exc), scratch.secrets())
            logger.warning("backup: could not drop the scratch database %s: %s", scratch.display(), problem)
        if not keep_dump:
            dump.path.unlink(missing_ok=True)
    durations["total"] = time.perf_counter() - t_total

    report = BackupReport(
        source=source.display(),
        scratch=scratch.display(),
        dump_path=str(dump.path) if keep_dump else None,
        dump_bytes=dump.bytes,
        tables=checks,
        durations=durations,
        pg_dump_version=dump.pg_dump_version,
        server_version=dump.server_version,
        started_at=started,
        scratch_dropped=dropped,
    )
    level = logging.INFO if report.match else logging.ERROR
    logger.log(level, "backup: %d tables, %d rows, match=%s", len(checks), report.total_rows, report.match)
    return report


def prune_dumps(workdir: str | os.PathLike[str], keep_days: int = 30, now: dt.datetime | None = None) -> list[Path]:
    """Delete ``*.dump`` files in ``workdir`` older than ``keep_days`` (the seeds keep 30 days);
    returns what was deleted."""
    cutoff = (now or dt.datetime.now(dt.UTC)).timestamp() - keep_days * 86_400
    removed = []
    for path in sorted(Path(workdir).glob("*.dump")):
        if path.stat().st_mtime < cutoff:
            path.unlink()
            removed.append(path)
    return removed
