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
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql

from autoindex_pipeline.providers.http import redact

logger = logging.getLogger(__name__)

_SAFE_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,62}$")
_PROTECTED_DATABASES = frozenset({"postgres", "template0", "template1"})
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")

# Session settings under which a row's text is the same on any server and client.
_CANONICAL_SESSION = (
    "SET TIME ZONE 'UTC'",
    "SET datestyle = 'ISO, YMD'",
    "SET intervalstyle = 'postgres'",
    "SET extra_float_digits = 1",
    "SET bytea_output = 'hex'",
)


class BackupError(RuntimeError):
    """The backup or the restore could not be carried out; the message says why and what to do."""


# --------------------------------------------------------------------------------------------
# Connection targets


@dataclass(frozen=True)
class PgTarget:
    """A PostgreSQL database from a URL (SQLAlchemy's ``postgresql+psycopg://`` or libpq's
    ``postgresql://``). ``password`` is kept out of ``repr``."""

    database: str
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    options: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_url(cls, url: str) -> PgTarget:
        try:
            parsed = sa.engine.make_url(url)
        except Exception as exc:  # noqa: BLE001 - the URL text may hold a password
            raise BackupError(f"not a database URL ({type(exc).__name__})") from None
        if not parsed.drivername.startswith("postgresql"):
            raise BackupError(f"backups need a PostgreSQL URL, not {parsed.drivername}://")
        if not parsed.database:
            raise BackupError("the database URL names no database")
        query = {k: (v if isinstance(v, str) else v[-1]) for k, v in parsed.query.items()}
        host = parsed.host or query.pop("host", None)
        return cls(
            database=parsed.database,
            host=host,
            port=parsed.port,
            user=parsed.username,
            password=parsed.password,
            options={k: v for k, v in query.items() if k in ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout")},
        )

    def with_database(self, database: str) -> PgTarget:
        return PgTarget(database, self.host, self.port, self.user, self.password, self.options)

    def display(self) -> str:
        """``user@host:port/db``: safe for logs and reports."""
        who = f"{self.user}@" if self.user else ""
        where = self.host or "localhost"
        return f"{who}{where}{f':{self.port}' if self.port else ''}/{self.database}"

    def same_database_as(self, other: PgTarget) -> bool:
        return (
            self.database == other.database
            and (self.host or "localhost") == (other.host or "localhost")
            and (self.port or 5432) == (other.port or 5432)
        )

    def connect(self, database: str | None = None, autocommit: bool = False) -> psycopg.Connection:
        kwargs: dict[str, Any] = {"dbname": database or self.database, "autocommit": autocommit}
        for key, value in (("host", self.host), ("port", self.port), ("user", self.user), ("password", self.password)):
            if value is not None:
                kwargs[key] = value
        kwargs.update(self.options)
        kwargs.setdefault("connect_timeout", 10)
        return psycopg.connect(**kwargs)

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for a libpq tool: the target as PG* variables (PGPASSWORD only when the
        URL has a password; otherwise whatever the environment or ~/.pgpass provide)."""
        env = dict(os.environ if base is None else base)
        env["PGDATABASE"] = self.database
        for var, value in (("PGHOST", self.host), ("PGPORT", self.port), ("PGUSER", self.user), ("PGPASSWORD", self.password)):
            if value is not None:
                env[var] = str(value)
        for key, value in self.options.items():
            env[{"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
                 "connect_timeout": "PGCONNECT_TIMEOUT"}[key]] = str(value)
        return env

    def secrets(self) -> list[str]:
        return [self.password] if self.password else []


def _check_name(name: str, role: str) -> None:
    if not _SAFE_DB_NAME.match(name):
        raise BackupError(f"the {role} database name {name!r} must be letters, digits, _ or - (at most 63)")


# --------------------------------------------------------------------------------------------
# Tools and versions


def find_pg_tool(name: str, pg_bin_dir: str | os.PathLike[str] | None = None) -> Path:
    """The path of ``pg_dump`` / ``pg_restore``: in ``pg_bin_dir`` when given, else on PATH."""
    if pg_bin_dir is not None:
        candidate = Path(pg_bin_dir) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
        raise BackupError(f"{name} not found in {pg_bin_dir}")
    found = shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} is not installed or not on PATH: install the PostgreSQL client tools matching the "
            f"server's major version (e.g. apt-get install postgresql-client-15) or pass pg_bin_dir"
        )
    return Path(found)


def tool_version(tool: Path) -> tuple[int, str]:
    """(major, full version string) of a PostgreSQL client tool."""
    try:
        out = subprocess.run([str(tool), "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    except OSError as exc:
        raise BackupError(f"cannot run {tool}: {exc}") from None
    match = _VERSION.search(out)
    if not match:
        raise BackupError(f"cannot read the version of {tool} from {out.strip()!r}")
    return int(match.group(1)), f"{match.group(1)}.{match.group(2) or 0}"


def server_version(target: PgTarget) -> tuple[int, str]:
    """(major, full version) of the server holding ``target``."""
    with target.connect() as conn:
        num = int(conn.execute("SHOW server_version_num").fetchone()[0])
        full = conn.execute("SHOW server_version").fetchone()[0]
    return num // 10000, str(full).split()[0]


def _run(cmd: Sequence[str], env: Mapping[str, str], secrets: Sequence[str], what: str, timeout: float | None) -> None:
    try:
        done = subprocess.run(list(cmd), env=dict(env), capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise BackupError(f"{what} did not finish within {timeout:.0f} s") from None
    except OSError as exc:
        raise BackupError(f"cannot run {what}: {exc}") from None
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout or "").strip().splitlines()[-8:])
        raise BackupError(f"{what} failed (exit {done.returncode}): {redact(tail, secrets)}")


# --------------------------------------------------------------------------------------------
# Checksums


@dataclass(frozen=True)
class TableFingerprint:
    table: str
    rows: int
    checksum: str
    order_by: tuple[str, ...]


def list_tables(conn: psycopg.Connection) -> list[str]:
    """Every ordinary or partitioned table outside the system schemas, as ``schema.table``
    (partitions are covered by their parent)."""
    rows = conn.execute(
        """
        SELECT n.nspname, c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND left(n.nspname, 3) <> 'pg_'
        ORDER BY 1, 2
        """
    ).fetchall()
    return [f"{schema}.{name}" for schema, name in rows]


def _identifier(table: str) -> sql.Identifier:
    schema, _, name = table.rpartition(".")
    return sql.Identifier(schema, name) if schema else sql.Identifier(name)


def _primary_key(conn: psycopg.Connection, table: sql.Identifier) -> tuple[str, ...]:
    rows = conn.execute(
        """
        SELECT a.attname
        FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = %s::regclass AND i.indisprimary
        ORDER BY array_position(i.indkey::int2[], a.attnum)
        """,
        (table.as_string(conn),),
    ).fetchall()
    return tuple(r[0] for r in rows)


def table_fingerprint(conn: psycopg.Connection, table: str) -> TableFingerprint:
    """Row count and ``md5`` over the rows' text in primary-key order (whole-row order when the
    table has no primary key). Run under the canonical session settings."""
    ident = _identifier(table)
    pk = _primary_key(conn, ident)
    order = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in pk) if pk else sql.SQL("t::text")
    query = sql.SQL(
        "SELECT count(*), md5(coalesce(string_agg(md5(t::text), '' ORDER BY {order}), '')) FROM {table} AS t"
    ).format(order=order, table=ident)
    count, checksum = conn.execute(query).fetchone()
    return TableFingerprint(table, int(count), str(checksum), pk or ("<whole row>",))


def fingerprints(target: PgTarget, tables: Sequence[str]) -> dict[str, TableFingerprint | str]:
    """Fingerprint of each table, or the error text for a table that cannot be read."""
    out: dict[str, TableFingerprint | str] = {}
    with target.connect(autocommit=True) as conn:
        for statement in _CANONICAL_SESSION:
            conn.execute(statement)
        for table in tables:
            try:
                out[table] = table_fingerprint(conn, table)
            except psycopg.Error as exc:
                out[table] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return out


# --------------------------------------------------------------------------------------------
# Report


@dataclass(frozen=True)
class TableCheck:
    table: str
    source_rows: int | None
    restored_rows: int | None
    source_checksum: str | None
    restored_checksum: str | None
    order_by: tuple[str, ...] = ()
    error: str | None = None

    @property
    def match(self) -> bool:
        return (
            self.error is None
            and self.source_rows is not None
            and self.source_rows == self.restored_rows
            and self.source_checksum == self.restored_checksum
        )


@dataclass
class BackupReport:
    source: str
    scratch: str
    dump_path: str | None
    dump_bytes: int
    tables: list[TableCheck]
    durations: dict[str, float]
    pg_dump_version: str
    server_version: str
    started_at: str
    scratch_dropped: bool = False

    @property
    def match(self) -> bool:
        return bool(self.tables) and all(t.match for t in self.tables)

    @property
    def mismatched(self) -> list[str]:
        return [t.table for t in self.tables if not t.match]

    @property
    def total_rows(self) -> int:
        return sum(t.source_rows or 0 for t in self.tables)

    def table_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "table": t.table,
                "source_rows": t.source_rows,
                "restored_rows": t.restored_rows,
                "source_checksum": t.source_checksum,
                "restored_checksum": t.restored_checksum,
                "match": t.match,
                "error": t.error,
            }
            for t in self.tables
        ]

    def as_metadata(self) -> dict[str, Any]:
        """Flat figures for run / asset metadata (no secrets)."""
        return {
            "source": self.source,
            "scratch": self.scratch,
            "dump_path": self.dump_path,
            "dump_bytes": self.dump_bytes,
            "tables": len(self.tables),
            "rows": self.total_rows,
            "match": self.match,
            "mismatched_tables": ", ".join(self.mismatched) or "",
            "pg_dump_version": self.pg_dump_version,
            "server_version": self.server_version,
            "scratch_dropped": self.scratch_dropped,
            **{f"seconds_{k}": round(v, 3) for k, v in self.durations.items()},
        }

    def to_markdown(self) -> str:
        verdict = "all tables match" if self.match else f"MISMATCH in {', '.join(self.mismatched)}"
        lines = [
            f"# Backup and restore test - {self.started_at}",
            "",
            f"{self.source} dumped ({self.dump_bytes / 1e6:.1f} MB, pg_dump {self.pg_dump_version}, server "
            f"{self.server_version}) and restored into {self.scratch}: **{verdict}**.",
            "",
            "| Table | Rows (source) | Rows (restored) | Checksums | |",
            "|---|---:|---:|---|---|",
        ]
        for t in self.tables:
            same = "equal" if t.source_checksum == t.restored_checksum and t.source_checksum else "differ"
            lines.append(
                f"| {t.table} | {t.source_rows if t.source_rows is not None else 'n/a'} | "
                f"{t.restored_rows if t.restored_rows is not None else 'n/a'} | {same} | "
                f"{'ok' if t.match else (t.error or 'MISMATCH')} |"
            )
        lines += ["", "Durations: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.durations.items())]
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Dump, restore, verify


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
    _run(
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
    _check_name(source.database, "source")
    _check_name(scratch.database, "scratch")
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
        _run(
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
