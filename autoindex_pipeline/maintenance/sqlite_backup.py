"""Back up the embedded SQLite warehouse and prove a stored backup restores.

A backup is taken with SQLite's online backup API (``sqlite3.Connection.backup``) while the
pipeline runs: the source connection opens a read transaction, fingerprints every table, and
copies the pages in one step inside that same transaction, so the manifest (row counts and
checksums) describes exactly the snapshot the file holds, whatever writers do meanwhile (WAL
mode: they are not blocked). The copy goes to ``<stem>_<UTC stamp>.sqlite.partial`` and is
renamed once complete, so a half-written file is never "the latest backup".

The restore test restores the stored file into a scratch file (the backup API again, as a
restore would), runs ``PRAGMA integrity_check``, fingerprints every table and compares with the
manifest written at backup time, then deletes the scratch file.

Fingerprint of a table: row count and ``md5`` over the md5 of each row's canonical text
(``repr`` of each value: shortest-exact floats, bytes as bytes) in primary-key order; a table
without a primary key is compared as the sorted multiset of its row hashes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from autoindex_pipeline.maintenance.fingerprint import BackupReport, Manifest, TableFingerprint, compare
from autoindex_pipeline.maintenance.postgres import BackupError

SQLITE_SUFFIX = ".sqlite"


def sqlite_path(database_url: str) -> Path:
    """The file of a ``sqlite:///`` URL (a memory database cannot be backed up)."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() != "sqlite":
        raise BackupError(f"not a SQLite URL: {parsed.drivername}://")
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("an in-memory SQLite database has no file to back up")
    return Path(parsed.database)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def list_sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    """Every ordinary table (virtual tables are skipped: their shadow tables hold the data and
    are listed)."""
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND upper(coalesce(sql, '')) NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name"
    ).fetchall()
    return [r[0] for r in rows]


def _primary_key(conn: sqlite3.Connection, table: str) -> tuple[str, ...]:
    info = conn.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
    return tuple(r[1] for r in sorted((r for r in info if r[5] > 0), key=lambda r: r[5]))


def _row_hash(row: tuple) -> bytes:
    return hashlib.md5("\x1f".join(repr(v) for v in row).encode("utf-8", "surrogatepass")).hexdigest().encode()


def table_fingerprint(conn: sqlite3.Connection, table: str) -> TableFingerprint:
    pk = _primary_key(conn, table)
    if pk:
        order = ", ".join(_quote(c) for c in pk)
        hashes = (_row_hash(r) for r in conn.execute(f"SELECT * FROM {_quote(table)} ORDER BY {order}"))
    else:
        hashes = iter(sorted(_row_hash(r) for r in conn.execute(f"SELECT * FROM {_quote(table)}")))
    digest = hashlib.md5()
    rows = 0
    for h in hashes:
        digest.update(h)
        rows += 1
    return TableFingerprint(table, rows, digest.hexdigest(), pk or ("<whole row>",))


def fingerprint_tables(conn: sqlite3.Connection, tables: Sequence[str]) -> dict[str, TableFingerprint | str]:
    out: dict[str, TableFingerprint | str] = {}
    for table in tables:
        try:
            out[table] = table_fingerprint(conn, table)
        except sqlite3.Error as exc:
            out[table] = f"{type(exc).__name__}: {exc}"
    return out


@dataclass(frozen=True)
class SqliteBackup:
    path: Path
    bytes: int
    seconds: float
    manifest: Manifest


def backup_sqlite(
    database_url: str, workdir: str | os.PathLike[str], *, now: dt.datetime | None = None
) -> SqliteBackup:
    """Copy the warehouse file into ``workdir/<stem>_<UTC stamp>.sqlite`` with the online backup
    API, with a manifest of every table's fingerprint taken in the same read transaction."""
    source_path = sqlite_path(database_url)
    if not source_path.exists():
        raise BackupError(f"the SQLite warehouse {source_path} does not exist")
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    when = now or dt.datetime.now(dt.UTC)
    final = folder / f"{source_path.stem}_{when.strftime('%Y%m%dT%H%M%SZ')}{SQLITE_SUFFIX}"
    partial = final.with_name(final.name + ".partial")
    partial.unlink(missing_ok=True)
    t0 = time.perf_counter()
    # Read-write open (read only in use): a read-only connection to a WAL database cannot
    # create the -shm file when no other process has it open.
    source = sqlite3.connect(source_path, isolation_level=None, timeout=30)
    try:
        source.execute("BEGIN")  # one read snapshot for the fingerprints and the page copy
        tables = list_sqlite_tables(source)
        prints = fingerprint_tables(source, tables)
        target = sqlite3.connect(partial)
        try:
            source.backup(target)  # pages=-1: one step, inside the source's read transaction
        finally:
            target.close()
        source.execute("COMMIT")
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"SQLite backup of {source_path} failed: {exc}") from None
    finally:
        source.close()
    manifest = Manifest(final, "sqlite", str(source_path), when.strftime("%Y-%m-%dT%H:%M:%SZ"), sqlite3.sqlite_version, prints)
    manifest.write()
    partial.replace(final)
    return SqliteBackup(final, final.stat().st_size, time.perf_counter() - t0, manifest)


def verify_sqlite_backup(
    backup: Path, scratch: Path, *, before_verify=None, now: dt.datetime | None = None
) -> BackupReport:
    """Restore ``backup`` into ``scratch`` (replaced), check its integrity, compare every table of
    its manifest by row count and checksum, delete ``scratch``. ``before_verify(scratch)`` runs
    after the restore (a drill or a test tampers with the copy there)."""
    manifest = Manifest.read(backup)
    started = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    durations: dict[str, float] = {}
    t_total = time.perf_counter()
    scratch.unlink(missing_ok=True)
    dropped = False
    try:
        t0 = time.perf_counter()
        src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        dst = sqlite3.connect(scratch)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        durations["restore"] = time.perf_counter() - t0
        if before_verify is not None:
            before_verify(scratch)
        t0 = time.perf_counter()
        conn = sqlite3.connect(f"file:{scratch}?mode=ro", uri=True)
        try:
            integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
            restored = fingerprint_tables(conn, list(manifest.tables))
            extra = [t for t in list_sqlite_tables(conn) if t not in manifest.tables]
        finally:
            conn.close()
        tables = list(manifest.tables) + extra
        checks = compare(tables, manifest.tables, restored, labels=("manifest", "restored"))
        if integrity != "ok":
            raise BackupError(f"the restored copy of {backup.name} fails PRAGMA integrity_check: {integrity}")
        durations["verify"] = time.perf_counter() - t0
    except sqlite3.Error as exc:
        raise BackupError(f"cannot restore {backup.name}: {exc}") from None
    finally:
        scratch.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm", "-journal"):
            scratch.with_name(scratch.name + suffix).unlink(missing_ok=True)
        dropped = not scratch.exists()
    durations["total"] = time.perf_counter() - t_total
    return BackupReport(
        source=manifest.source,
        scratch=str(scratch),
        dump_path=str(backup),
        dump_bytes=backup.stat().st_size,
        tables=checks,
        durations=durations,
        pg_dump_version="",
        server_version=sqlite3.sqlite_version,
        started_at=started,
        scratch_dropped=dropped,
        backup_created_at=manifest.created_at,
        kind="sqlite",
    )
