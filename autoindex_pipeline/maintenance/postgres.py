"""PostgreSQL connection targets and client tools for backups: a database from its URL, the
``pg_dump`` / ``pg_restore`` binaries and their versions, and running them.

Secrets: a password in a URL reaches the tools through ``PGPASSWORD`` in the subprocess
environment (:meth:`PgTarget.env`), never on the command line (visible in ``ps``); logs and
reports show :meth:`PgTarget.display` (``user@host:port/db``), and tool output quoted in an
error is redacted. Every failure raises :class:`BackupError`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from autoindex_pipeline.providers.http import redact

_SAFE_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,62}$")
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


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
        except Exception as exc:  # any parse error: its text may quote the URL, password included
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


def check_database_name(name: str, role: str) -> None:
    """Refuse a database name that is not plain letters, digits, ``_`` or ``-`` (it is dropped and
    created by name)."""
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


def run_tool(cmd: Sequence[str], env: Mapping[str, str], secrets: Sequence[str], what: str, timeout: float | None) -> None:
    """Run a client tool; a non-zero exit, a timeout or a missing binary raises :class:`BackupError`
    quoting the last lines of its output with ``secrets`` redacted."""
    try:
        done = subprocess.run(list(cmd), env=dict(env), capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise BackupError(f"{what} did not finish within {timeout:.0f} s") from None
    except OSError as exc:
        raise BackupError(f"cannot run {what}: {exc}") from None
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout or "").strip().splitlines()[-8:])
        raise BackupError(f"{what} failed (exit {done.returncode}): {redact(tail, secrets)}")
