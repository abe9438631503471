"""Backup and restore test against the real PostgreSQL server ($AUTOINDEX_TEST_PG_URL).

Each test creates its own source database with a few tables (a composite primary key, a table
without one, a second schema, NULLs, floats, unicode, timestamps), runs ``backup_and_verify``
into a scratch database, and drops everything it created, whatever happens."""

from __future__ import annotations

import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from autoindex_pipeline.maintenance.backup import BackupError, backup_and_verify
from autoindex_pipeline_tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.postgres

PASSWORD = "n0t-Really-Used-Under-Trust"  # trust auth ignores it; it must still never leak


def _url(database: str, password: str | None = PASSWORD) -> str:
    url = sa.engine.make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=database)
    if password:
        url = url.set(password=password)
    return url.render_as_string(hide_password=False)


def _admin() -> psycopg.Connection:
    url = sa.engine.make_url(PG_ADMIN_URL)
    return psycopg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, dbname=url.database or "postgres", autocommit=True
    )


def _exists(name: str) -> bool:
    with _admin() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


SCHEMA = """
CREATE TABLE assets (symbol varchar(16) PRIMARY KEY, name text NOT NULL, is_benchmark boolean NOT NULL);
CREATE TABLE prices (
    symbol varchar(16) NOT NULL REFERENCES assets(symbol), date date NOT NULL,
    close double precision, volume double precision, source text NOT NULL,
    ingested_at timestamptz NOT NULL, PRIMARY KEY (symbol, date)
);
CREATE TABLE log_lines (at timestamptz, line text);
CREATE SCHEMA archive;
CREATE TABLE archive.news_articles (id bigint PRIMARY KEY, title text, published_at timestamptz);

INSERT INTO assets VALUES ('AAPL', 'Apple', false), ('MSFT', 'Microsoft', false), ('SPY', 'S&P 500 ETF', true);
INSERT INTO prices
SELECT s.symbol, d::date, 100 + random() * 50, CASE WHEN random() < 0.1 THEN NULL ELSE floor(random() * 1e7) END,
       'sample', '2024-03-05 23:00:00+00'::timestamptz + (d::date - '2023-01-02'::date) * interval '1 minute'
FROM assets s, generate_series('2023-01-02'::date, '2023-12-29'::date, interval '1 day') AS d
WHERE extract(isodow FROM d) < 6;
INSERT INTO prices VALUES ('AAPL', '2024-01-02', 0.1 + 0.2, 1e300, 'unicode: naïve ½ 東京', now());
INSERT INTO log_lines SELECT now() - i * interval '1 hour', 'line ' || i FROM generate_series(1, 40) AS i;
INSERT INTO log_lines VALUES (NULL, NULL), (NULL, NULL);
INSERT INTO archive.news_articles SELECT i, 'title ' || i, now() - i * interval '1 day' FROM generate_series(1, 25) AS i;
"""


@pytest.fixture
def dbs(tmp_path: Path) -> Iterator[dict[str, str]]:
    suffix = uuid.uuid4().hex[:10]
    source, scratch = f"autoindex_test_bksrc_{suffix}", f"autoindex_test_bkscr_{suffix}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{source}"')
    try:
        with psycopg.connect(_url(source).replace("postgresql+psycopg", "postgresql")) as conn:
            conn.execute(SCHEMA)
        yield {"source": _url(source), "scratch": _url(scratch), "source_name": source, "scratch_name": scratch}
    finally:
        with _admin() as conn:
            for name in (source, scratch):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_backup_restores_identically_and_keeps_secrets_out(dbs, tmp_path, monkeypatch):
    calls: list[tuple[list[str], dict[str, str] | None]] = []
    real_run = subprocess.run

    def spy(cmd, *args, **kwargs):
        calls.append((list(cmd), kwargs.get("env")))
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", spy)
    report = backup_and_verify(dbs["source"], dbs["scratch"], None, tmp_path / "backups")

    assert report.match, report.to_markdown()
    tables = {t.table: t for t in report.tables}
    assert set(tables) == {"archive.news_articles", "public.assets", "public.log_lines", "public.prices"}
    assert tables["public.assets"].source_rows == tables["public.assets"].restored_rows == 3
    assert tables["public.prices"].source_rows == 3 * 260 + 1
    assert tables["public.log_lines"].restored_rows == 42
    assert tables["public.prices"].order_by == ("symbol", "date")
    assert tables["public.log_lines"].order_by == ("<whole row>",)  # no primary key: whole-row order
    assert all(t.source_checksum == t.restored_checksum and len(t.source_checksum) == 32 for t in report.tables)

    dump = Path(report.dump_path)
    assert dump.exists() and dump.stat().st_size == report.dump_bytes > 0
    assert dump.read_bytes()[:5] == b"PGDMP"  # custom format
    assert report.scratch_dropped and not _exists(dbs["scratch_name"])
    assert report.server_version.startswith("15") and report.pg_dump_version.startswith("15")
    assert {"dump", "restore", "verify", "total"} <= set(report.durations)

    # The password travels in PGPASSWORD only: never on a command line, never in the report.
    tool_calls = [(cmd, env) for cmd, env in calls if Path(cmd[0]).name in ("pg_dump", "pg_restore") and "--version" not in cmd]
    assert {Path(cmd[0]).name for cmd, _ in tool_calls} == {"pg_dump", "pg_restore"}
    for cmd, env in tool_calls:
        assert all(PASSWORD not in part for part in cmd)
        assert env is not None and env["PGPASSWORD"] == PASSWORD
    for text in (repr(report), str(report.as_metadata()), report.to_markdown(), str(report.table_rows())):
        assert PASSWORD not in text
    assert report.source.endswith(f"/{dbs['source_name']}") and report.scratch.endswith(f"/{dbs['scratch_name']}")


def test_a_tampered_restore_is_reported(dbs, tmp_path):
    def tamper(scratch_url: str) -> None:
        with psycopg.connect(scratch_url.replace("postgresql+psycopg", "postgresql")) as conn:
            conn.execute("UPDATE prices SET close = close + 1e-9 WHERE symbol = 'MSFT' AND date = '2023-06-01'")
            conn.execute("DELETE FROM archive.news_articles WHERE id = 7")

    report = backup_and_verify(
        dbs["source"],
        dbs["scratch"],
        ["prices", "assets", "archive.news_articles"],
        tmp_path,
        before_verify=tamper,
        keep_dump=False,
    )
    assert not report.match
    assert report.mismatched == ["prices", "archive.news_articles"]
    checks = {t.table: t for t in report.tables}
    prices = checks["prices"]
    assert prices.source_rows == prices.restored_rows and prices.source_checksum != prices.restored_checksum
    news = checks["archive.news_articles"]
    assert (news.source_rows, news.restored_rows) == (25, 24)
    assert checks["assets"].match
    assert report.dump_path is None and list(tmp_path.glob("*.dump")) == []
    assert "MISMATCH in prices, archive.news_articles" in report.to_markdown()
    assert not _exists(dbs["scratch_name"])


def test_a_missing_table_is_a_mismatch_not_a_crash(dbs, tmp_path):
    report = backup_and_verify(dbs["source"], dbs["scratch"], ["assets", "no_such_table"], tmp_path)
    checks = {t.table: t for t in report.tables}
    assert checks["assets"].match
    assert not checks["no_such_table"].match and "UndefinedTable" in (checks["no_such_table"].error or "")
    assert not report.match


def _fake_tool(folder: Path, name: str, version: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\necho '{name} (PostgreSQL) {version}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_clear_errors_before_touching_anything(dbs, tmp_path):
    # The scratch database must never be the warehouse (it is dropped).
    with pytest.raises(BackupError, match="must not be the source"):
        backup_and_verify(dbs["source"], _url(dbs["source_name"], password=None), None, tmp_path)
    with pytest.raises(BackupError, match="refusing"):
        backup_and_verify(dbs["source"], _url("postgres"), None, tmp_path)
    # Tools missing.
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BackupError, match="pg_dump not found"):
        backup_and_verify(dbs["source"], dbs["scratch"], None, tmp_path, pg_bin_dir=empty)
    # Tools older than the server.
    old = tmp_path / "old"
    old.mkdir()
    _fake_tool(old, "pg_dump", "9.6.24")
    _fake_tool(old, "pg_restore", "9.6.24")
    with pytest.raises(BackupError, match=r"version mismatch: pg_dump 9\.6 cannot dump a PostgreSQL 15"):
        backup_and_verify(dbs["source"], dbs["scratch"], None, tmp_path, pg_bin_dir=old)
    # pg_restore from another release than pg_dump.
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    _fake_tool(mixed, "pg_dump", "16.2")
    _fake_tool(mixed, "pg_restore", "14.11")
    with pytest.raises(BackupError, match="different PostgreSQL releases"):
        backup_and_verify(dbs["source"], dbs["scratch"], None, tmp_path, pg_bin_dir=mixed)
    assert not _exists(dbs["scratch_name"])
    assert list(tmp_path.glob("*.dump")) == []
