"""Back up the warehouse and prove a backup restores.

Nightly, :func:`backup_warehouse` writes a dated backup with a manifest beside it: every table's
row count and checksum taken in the very snapshot the backup holds (PostgreSQL: ``pg_dump
--snapshot`` of an exported repeatable-read snapshot; SQLite: :mod:`.sqlite_backup`, the online
backup API). Monthly, :func:`restore_test_latest` restores the LATEST STORED backup into a
scratch database (or file) and compares every table with its manifest, so the files retention
keeps are the ones proven, months after they were written. :func:`prune_backups` is the
retention (by the stamp in the name; the newest is always kept).

:func:`backup_and_verify` is the older all-in-one drill (dump afresh, restore, compare with the
live source), steps:

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
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from autoindex_pipeline.maintenance.fingerprint import (
    MANIFEST_SUFFIX,
    BackupReport,
    Manifest,
    TableCheck,
    canonical_session,
    compare,
    fingerprint_tables,
    fingerprints,
    list_tables,
    manifest_path,
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
from autoindex_pipeline.maintenance.sqlite_backup import backup_sqlite, sqlite_path, verify_sqlite_backup
from autoindex_pipeline.providers.http import redact

__all__ = [
    "MANIFEST_SUFFIX",
    "BackupError",
    "BackupReport",
    "DumpResult",
    "PgTarget",
    "StoredBackup",
    "TableCheck",
    "backup_and_verify",
    "backup_stamp",
    "backup_warehouse",
    "dump_database",
    "latest_backup",
    "prune_backups",
    "prune_dumps",
    "restore_test_latest",
    "stored_backups",
    "verify_stored_dump",
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
    manifest: Manifest | None = None


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
    """``pg_dump --format=custom`` of the database into ``workdir/<db>_<UTC stamp>.dump``, with a
    manifest beside it (``.dump.manifest.json``): every table's row count and checksum taken in
    the snapshot the dump reads (``pg_export_snapshot`` in a repeatable-read transaction, passed
    to ``pg_dump --snapshot``), so a later restore test can prove this very file."""
    source = PgTarget.from_url(database_url)
    pg_dump = find_pg_tool("pg_dump", pg_bin_dir)
    dump_version, srv_version = _check_versions(source, pg_dump, None)
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    when = now or dt.datetime.now(dt.UTC)
    path = folder / f"{source.database}_{when.strftime('%Y%m%dT%H%M%SZ')}.dump"
    partial = path.with_name(path.name + ".partial")
    t0 = time.perf_counter()
    try:
        with source.connect() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            canonical_session(conn)
            prints = fingerprint_tables(conn, list_tables(conn))
            # The exporting transaction stays open while pg_dump reads its snapshot.
            run_tool(
                [str(pg_dump), "--format=custom", "--no-password", f"--snapshot={snapshot}", f"--file={partial}"],
                source.env(),
                source.secrets(),
                "pg_dump",
                timeout,
            )
            conn.rollback()
    except psycopg.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot snapshot {source.display()}: {redact(str(exc).strip(), source.secrets())}") from None
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    manifest = Manifest(path, "postgres", source.display(), when.strftime("%Y-%m-%dT%H:%M:%SZ"), srv_version, prints)
    manifest.write()
    partial.replace(path)
    return DumpResult(path, path.stat().st_size, time.perf_counter() - t0, dump_version, srv_version, manifest)


def _recreate(target: PgTarget, maintenance_db: str, create: bool) -> None:
    with target.connect(database=maintenance_db, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target.database)))
        if create:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(target.database)))


def _check_scratch(source: PgTarget, scratch: PgTarget, maintenance_db: str) -> None:
    check_database_name(source.database, "source")
    check_database_name(scratch.database, "scratch")
    if scratch.same_database_as(source):
        raise BackupError("the scratch database must not be the source database (it is dropped and recreated)")
    if scratch.database in _PROTECTED_DATABASES or scratch.database == maintenance_db:
        raise BackupError(f"refusing to use {scratch.database!r} as the scratch database")


def _restore(scratch: PgTarget, pg_restore: Path, dump: Path, maintenance_db: str, jobs: int, timeout: float | None) -> None:
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
            str(dump),
        ],
        scratch.env(),
        scratch.secrets(),
        "pg_restore",
        timeout,
    )


def _drop_scratch(scratch: PgTarget, maintenance_db: str) -> bool:
    try:
        _recreate(scratch, maintenance_db, create=False)
        return True
    except psycopg.Error as exc:
        problem = redact(str(exc), scratch.secrets())
        logger.warning("backup: could not drop the scratch database %s: %s", scratch.display(), problem)
        return False


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
    None = every table of the source) by row count and checksum against the source as it is
    now (use :func:`verify_stored_dump` to prove a dump taken earlier).

    ``before_verify(scratch_database_url)`` runs after the restore and before the comparison:
    a drill or a test can tamper with the restored copy to prove a difference is caught.
    ``maintenance_db`` is where ``CREATE/DROP DATABASE`` are issued on the scratch server.
    Raises :class:`BackupError` when the work cannot be done; returns the report otherwise.
    """
    source = PgTarget.from_url(database_url)
    scratch = PgTarget.from_url(scratch_database_url)
    _check_scratch(source, scratch, maintenance_db)
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
        _restore(scratch, pg_restore, dump.path, maintenance_db, jobs, timeout)
        durations["restore"] = time.perf_counter() - t0
        logger.info("backup: restored into %s", scratch.display())

        if before_verify is not None:
            before_verify(scratch_database_url)

        t0 = time.perf_counter()
        if tables is None:
            with source.connect() as conn:
                tables = list_tables(conn)
        wanted = list(tables)
        checks = compare(wanted, fingerprints(source, wanted), fingerprints(scratch, wanted))
        durations["verify"] = time.perf_counter() - t0
    finally:
        dropped = _drop_scratch(scratch, maintenance_db)
        if not keep_dump:
            dump.path.unlink(missing_ok=True)
            manifest_path(dump.path).unlink(missing_ok=True)
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


def verify_stored_dump(
    dump: str | os.PathLike[str],
    scratch_database_url: str,
    *,
    source_database_url: str | None = None,
    before_verify: Callable[[str], None] | None = None,
    pg_bin_dir: str | os.PathLike[str] | None = None,
    maintenance_db: str = "postgres",
    jobs: int = 1,
    timeout: float | None = None,
    now: dt.datetime | None = None,
) -> BackupReport:
    """Restore a stored dump into the scratch database and compare every table of its manifest
    (the fingerprints taken in the dump's own snapshot) by row count and checksum; a table in
    the restored copy that the manifest lacks is a mismatch too. ``source_database_url`` only
    guards against naming the warehouse as the scratch database."""
    path = Path(dump)
    if not manifest_path(path).exists():
        raise BackupError(f"{path.name} has no manifest ({manifest_path(path).name}): it cannot be verified")
    manifest = Manifest.read(path)
    scratch = PgTarget.from_url(scratch_database_url)
    if source_database_url is not None:
        _check_scratch(PgTarget.from_url(source_database_url), scratch, maintenance_db)
    else:
        check_database_name(scratch.database, "scratch")
        if scratch.database in _PROTECTED_DATABASES or scratch.database == maintenance_db:
            raise BackupError(f"refusing to use {scratch.database!r} as the scratch database")
    pg_restore = find_pg_tool("pg_restore", pg_bin_dir)
    restore_major, restore_full = tool_version(pg_restore)
    scratch_major, scratch_full = server_version(scratch.with_database(maintenance_db))
    dumped_major = int(manifest.engine_version.split(".")[0])
    if scratch_major < dumped_major or restore_major < dumped_major:
        raise BackupError(
            f"version mismatch: the dump comes from PostgreSQL {manifest.engine_version}; the scratch server runs "
            f"{scratch_full} and pg_restore is {restore_full}"
        )
    started = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    durations: dict[str, float] = {}
    t_total = time.perf_counter()
    try:
        t0 = time.perf_counter()
        _restore(scratch, pg_restore, path, maintenance_db, jobs, timeout)
        durations["restore"] = time.perf_counter() - t0
        if before_verify is not None:
            before_verify(scratch_database_url)
        t0 = time.perf_counter()
        with scratch.connect() as conn:
            restored_tables = list_tables(conn)
        wanted = list(manifest.tables) + [t for t in restored_tables if t not in manifest.tables]
        checks = compare(wanted, manifest.tables, fingerprints(scratch, wanted), labels=("manifest", "restored"))
        durations["verify"] = time.perf_counter() - t0
    finally:
        dropped = _drop_scratch(scratch, maintenance_db)
    durations["total"] = time.perf_counter() - t_total
    report = BackupReport(
        source=manifest.source,
        scratch=scratch.display(),
        dump_path=str(path),
        dump_bytes=path.stat().st_size,
        tables=checks,
        durations=durations,
        pg_dump_version=restore_full,
        server_version=manifest.engine_version,
        started_at=started,
        scratch_dropped=dropped,
        backup_created_at=manifest.created_at,
    )
    level = logging.INFO if report.match else logging.ERROR
    logger.log(level, "restore test of %s: %d tables, %d rows, match=%s", path.name, len(checks), report.total_rows, report.match)
    return report


# --------------------------------------------------------------------------------------------
# Stored backups: which is the latest, and retention

_STAMP = re.compile(r"_(\d{8}T\d{6}Z)\.(dump|sqlite)$")


def backup_stamp(path: Path) -> dt.datetime | None:
    """When a backup was taken, from its name (``..._20260101T010000Z.dump``); None for a file
    that is not one of ours."""
    match = _STAMP.search(path.name)
    if not match:
        return None
    return dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


def stored_backups(workdir: str | os.PathLike[str], prefix: str | None = None) -> list[Path]:
    """Complete backups in ``workdir`` (``*.dump`` and ``*.sqlite`` with their manifest), oldest
    first; ``prefix`` (the database name or the SQLite file's stem) selects one warehouse's."""
    folder = Path(workdir)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        stamp = backup_stamp(path)
        if stamp is None or not manifest_path(path).exists():
            continue
        if prefix is not None and not path.name.startswith(f"{prefix}_"):
            continue
        found.append((stamp, path.name, path))
    return [p for _, _, p in sorted(found)]


def latest_backup(workdir: str | os.PathLike[str], prefix: str | None = None) -> Path | None:
    backups = stored_backups(workdir, prefix)
    return backups[-1] if backups else None


def prune_backups(
    workdir: str | os.PathLike[str], keep_days: int = 30, now: dt.datetime | None = None, prefix: str | None = None
) -> list[Path]:
    """Delete backups (``*.dump`` / ``*.sqlite`` and their manifests) taken more than
    ``keep_days`` ago, by the stamp in their name (a copied file's mtime lies); the newest backup
    is always kept, however old, so retention never leaves nothing to restore. Leftover
    ``.partial`` files of a crashed backup older than a day go too. Returns what was deleted."""
    now = now or dt.datetime.now(dt.UTC)
    cutoff = now - dt.timedelta(days=keep_days)
    backups = stored_backups(workdir, prefix)
    removed = []
    for path in backups[:-1]:
        stamp = backup_stamp(path)
        if stamp is not None and stamp < cutoff:
            path.unlink(missing_ok=True)
            manifest_path(path).unlink(missing_ok=True)
            removed.append(path)
    folder = Path(workdir)
    if folder.is_dir():
        for partial in folder.glob("*.partial"):
            if partial.stat().st_mtime < (now - dt.timedelta(days=1)).timestamp():
                partial.unlink(missing_ok=True)
                removed.append(partial)
    return removed


def prune_dumps(workdir: str | os.PathLike[str], keep_days: int = 30, now: dt.datetime | None = None) -> list[Path]:
    """The old name of :func:`prune_backups`."""
    return prune_backups(workdir, keep_days, now)



# --------------------------------------------------------------------------------------------
# Either warehouse: what the maintenance jobs call


@dataclass(frozen=True)
class StoredBackup:
    path: Path
    bytes: int
    seconds: float
    tables: int
    rows: int


def _is_sqlite(database_url: str) -> bool:
    return database_url.startswith("sqlite")


def backup_prefix(database_url: str) -> str:
    """The name prefix of this warehouse's backups: the database name, or the SQLite file's stem."""
    if _is_sqlite(database_url):
        return sqlite_path(database_url).stem
    return PgTarget.from_url(database_url).database


def backup_warehouse(database_url: str, workdir: str | os.PathLike[str], *, now: dt.datetime | None = None,
                     pg_bin_dir: str | os.PathLike[str] | None = None) -> StoredBackup:
    """A dated backup with its manifest: pg_dump on PostgreSQL, the online backup API on SQLite."""
    if _is_sqlite(database_url):
        done = backup_sqlite(database_url, workdir, now=now)
        manifest, path, size, seconds = done.manifest, done.path, done.bytes, done.seconds
    else:
        dump = dump_database(database_url, workdir, pg_bin_dir=pg_bin_dir, now=now)
        assert dump.manifest is not None
        manifest, path, size, seconds = dump.manifest, dump.path, dump.bytes, dump.seconds
    rows = sum(fp.rows for fp in manifest.tables.values() if not isinstance(fp, str))
    return StoredBackup(path, size, seconds, len(manifest.tables), rows)


def restore_test_latest(
    database_url: str,
    workdir: str | os.PathLike[str],
    scratch: str | os.PathLike[str],
    *,
    before_verify: Callable | None = None,
    pg_bin_dir: str | os.PathLike[str] | None = None,
    now: dt.datetime | None = None,
) -> BackupReport:
    """Restore the latest stored backup of this warehouse into ``scratch`` (a database URL on
    PostgreSQL, a file path on SQLite) and compare every table with the backup's manifest."""
    latest = latest_backup(workdir, backup_prefix(database_url))
    if latest is None:
        raise BackupError(f"no stored backup of this warehouse in {workdir}: run warehouse_backup_job first")
    if _is_sqlite(database_url):
        if latest.suffix != ".sqlite":
            raise BackupError(f"the latest backup {latest.name} is not a SQLite backup")
        return verify_sqlite_backup(latest, Path(scratch), before_verify=before_verify, now=now)
    if latest.suffix != ".dump":
        raise BackupError(f"the latest backup {latest.name} is not a pg_dump file")
    return verify_stored_dump(latest, str(scratch), source_database_url=database_url, before_verify=before_verify,
                              pg_bin_dir=pg_bin_dir, now=now)
