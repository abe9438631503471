"""Table fingerprints and the backup report: what proves a restored copy equals its source.

Per table, a row count and a checksum computed in SQL on both sides:
``md5(string_agg(md5(row::text), '' ORDER BY <primary key>))`` under fixed session settings (UTC,
ISO dates, shortest-exact floats) so the text of a row is the same on any server and client.
:class:`BackupReport` compares the two sides table by table and renders the result for run
metadata and a markdown summary (database names only as ``user@host:port/db``, no secrets).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from autoindex_pipeline.maintenance.postgres import PgTarget

# Session settings under which a row's text is the same on any server and client.
_CANONICAL_SESSION = (
    "SET TIME ZONE 'UTC'",
    "SET datestyle = 'ISO, YMD'",
    "SET intervalstyle = 'postgres'",
    "SET extra_float_digits = 1",
    "SET bytea_output = 'hex'",
)


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


def canonical_session(conn: psycopg.Connection) -> None:
    """Apply the session settings under which a row's text is the same on any server."""
    for statement in _CANONICAL_SESSION:
        conn.execute(statement)


def fingerprint_tables(conn: psycopg.Connection, tables: Sequence[str]) -> dict[str, TableFingerprint | str]:
    """Fingerprints on an open connection (already under :func:`canonical_session`). Inside a
    transaction a failing table rolls back to a savepoint, so the snapshot the caller holds (the
    one ``pg_dump --snapshot`` reads) survives it."""
    out: dict[str, TableFingerprint | str] = {}
    for table in tables:
        try:
            if conn.autocommit:
                out[table] = table_fingerprint(conn, table)
            else:
                with conn.transaction():
                    out[table] = table_fingerprint(conn, table)
        except psycopg.Error as exc:
            out[table] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return out


def fingerprints(target: PgTarget, tables: Sequence[str]) -> dict[str, TableFingerprint | str]:
    """Fingerprint of each table, or the error text for a table that cannot be read."""
    with target.connect(autocommit=True) as conn:
        canonical_session(conn)
        return fingerprint_tables(conn, tables)


def compare(
    tables: Sequence[str],
    expected: Mapping[str, TableFingerprint | str],
    actual: Mapping[str, TableFingerprint | str],
    labels: tuple[str, str] = ("source", "restored"),
) -> list[TableCheck]:
    """One :class:`TableCheck` per table: the expected side (the source, or the manifest written
    with the backup) against the restored copy."""
    checks = []
    for table in tables:
        a = expected.get(table, "not in the backup's manifest")
        b = actual.get(table, "not in the restored copy")
        error = None
        if isinstance(a, str):
            error = f"{labels[0]}: {a}"
        elif isinstance(b, str):
            error = f"{labels[1]}: {b}"
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
    return checks


# --------------------------------------------------------------------------------------------
# The manifest written beside each backup: the source's fingerprints taken in the very snapshot
# the backup copied, so the restore test can prove a stored backup months later, while the
# warehouse has moved on.

MANIFEST_SUFFIX = ".manifest.json"


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + MANIFEST_SUFFIX)


@dataclass(frozen=True)
class Manifest:
    backup: Path
    kind: str
    """``postgres`` or ``sqlite``."""
    source: str
    created_at: str
    engine_version: str
    tables: dict[str, TableFingerprint | str]

    def write(self) -> Path:
        path = manifest_path(self.backup)
        payload = {
            "backup": self.backup.name,
            "kind": self.kind,
            "source": self.source,
            "created_at": self.created_at,
            "engine_version": self.engine_version,
            "tables": {
                name: ({"rows": fp.rows, "checksum": fp.checksum, "order_by": list(fp.order_by)}
                       if isinstance(fp, TableFingerprint) else {"error": fp})
                for name, fp in self.tables.items()
            },
        }
        tmp = path.with_name(path.name + ".partial")
        tmp.write_text(json.dumps(payload, indent=1, sort_keys=True))
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, backup: Path) -> Manifest:
        payload = json.loads(manifest_path(backup).read_text())
        tables: dict[str, TableFingerprint | str] = {}
        for name, item in payload["tables"].items():
            tables[name] = (item["error"] if "error" in item
                            else TableFingerprint(name, int(item["rows"]), str(item["checksum"]), tuple(item["order_by"])))
        return cls(backup, payload["kind"], payload["source"], payload["created_at"], payload["engine_version"], tables)


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
    backup_created_at: str | None = None
    """When the restored backup was taken (a restore test of a stored backup); None when the
    test dumped afresh."""
    kind: str = "postgres"

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
            "backup_created_at": self.backup_created_at or "",
            **{f"seconds_{k}": round(v, 3) for k, v in self.durations.items()},
        }

    def to_markdown(self) -> str:
        verdict = "all tables match" if self.match else f"MISMATCH in {', '.join(self.mismatched)}"
        if self.kind == "sqlite":
            what = (f"{self.source} copied by the SQLite backup API ({self.dump_bytes / 1e6:.1f} MB, SQLite "
                    f"{self.server_version})")
        else:
            what = (f"{self.source} dumped ({self.dump_bytes / 1e6:.1f} MB, pg_dump {self.pg_dump_version}, server "
                    f"{self.server_version})")
        taken = f" taken {self.backup_created_at}" if self.backup_created_at else ""
        lines = [
            f"# Backup and restore test - {self.started_at}",
            "",
            f"{what}{taken}, restored into {self.scratch}: **{verdict}**.",
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
