"""Table fingerprints and the backup report: what proves a restored copy equals its source.

Per table, a row count and a checksum computed in SQL on both sides:
``md5(string_agg(md5(row::text), '' ORDER BY <primary key>))`` under fixed session settings (UTC,
ISO dates, shortest-exact floats) so the text of a row is the same on any server and client.
:class:`BackupReport` compares the two sides table by table and renders the result for run
metadata and a markdown summary (database names only as ``user@host:port/db``, no secrets).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
