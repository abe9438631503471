"""Backups of either warehouse and the restore test of the latest STORED backup, on SQLite and
PostgreSQL: every warehouse table is filled with rows, backed up with its manifest, the live
warehouse moves on, and the stored backup still proves itself table by table."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import dagster as dg
import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa

from autoindex_pipeline.config import DATABASE_URL_ENV_VAR, load_config
from autoindex_pipeline.definitions import build_definitions
from autoindex_pipeline.defs.maintenance.jobs import backup_age_days
from autoindex_pipeline.maintenance import backup
from autoindex_pipeline.maintenance.fingerprint import Manifest, manifest_path
from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline_tests.conftest import reset_postgres_schema, write_config
from autoindex_pipeline_tests.integration.test_index_pipeline import run_prices_job

T1 = dt.datetime(2026, 1, 5, 6, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 1, 6, 6, 0, tzinfo=dt.UTC)


def _value(column: sa.Column, i: int):
    """A value of the column's type for row ``i`` (unique per row, so composite keys hold)."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return i % 2 == 0
    if isinstance(kind, sa.Integer):
        return i + 1
    if isinstance(kind, sa.Float):
        return (i + 1) / 3  # shortest-exact text matters: 0.333...
    if isinstance(kind, sa.DateTime):
        return dt.datetime(2025, 1, 2, 21, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=i)
    if isinstance(kind, sa.Date):
        return dt.date(2025, 1, 2) + dt.timedelta(days=i)
    if isinstance(kind, sa.JSON):
        return {"i": i}
    length = getattr(kind, "length", None) or 40
    return f"{column.name[:6]}-{i}-naïve"[:length]


def fill_every_table(engine: sa.Engine, rows: int, offset: int = 0) -> None:
    """``rows`` rows in EVERY table of the warehouse schema (news, quality, overrides, audit,
    outbox ... whatever it holds now)."""
    with engine.begin() as conn:
        for table in schema.metadata.sorted_tables:
            batch = [{c.name: _value(c, offset + i) for c in table.columns} for i in range(rows)]
            conn.execute(table.insert(), batch)


@pytest.fixture
def warehouse(warehouse_url):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    fill_every_table(engine, 7)
    return warehouse_url, engine


def _scratch(url: str, tmp_path: Path) -> str:
    if url.startswith("sqlite"):
        return str(tmp_path / "scratch.sqlite")
    return sa.engine.make_url(url).set(database=sa.engine.make_url(url).database + "_restore_test").render_as_string(
        hide_password=False)


def _warehouse_tables() -> set[str]:
    return {t.name for t in schema.metadata.sorted_tables} | {"alembic_version"}


def _bare(name: str) -> str:
    return name.rpartition(".")[2]


def _schema_tables(names) -> set[str]:
    """The tables named, less the SQLite full-text index's own shadow tables (backed up and
    compared too, but not part of the schema's metadata)."""
    return {_bare(n) for n in names if not schema.is_search_object(_bare(n))}


def test_the_latest_stored_backup_restores_and_matches_every_table(warehouse, tmp_path):
    url, engine = warehouse
    folder = tmp_path / "backups"
    first = backup.backup_warehouse(url, folder, now=T1)
    fill_every_table(engine, 2, offset=100)  # the warehouse moves on between the backups
    second = backup.backup_warehouse(url, folder, now=T2)
    fill_every_table(engine, 3, offset=200)  # and after the last one: the stored backup is what is tested

    assert first.path != second.path and backup.latest_backup(folder) == second.path
    assert second.path.name.endswith("_20260106T060000Z" + (".sqlite" if url.startswith("sqlite") else ".dump"))
    report = backup.restore_test_latest(url, folder, _scratch(url, tmp_path), now=T2)

    assert report.match, report.to_markdown()
    assert report.backup_created_at == "2026-01-06T06:00:00Z" and report.dump_path == str(second.path)
    checked = {_bare(t.table): t for t in report.tables}
    assert _schema_tables(checked) == _warehouse_tables()  # every warehouse table, news / quality / audit included
    for name in ("news_articles", "quality_audit", "price_overrides", "quality_verdicts", "alert_outbox", "prices"):
        assert checked[name].restored_rows == checked[name].source_rows == 9, name  # 7 + 2: the second backup
    assert all(len(t.source_checksum or "") == 32 for t in report.tables)
    assert report.scratch_dropped
    if url.startswith("sqlite"):
        assert not Path(_scratch(url, tmp_path)).exists()


def test_a_damaged_restored_copy_is_reported_per_table(warehouse, tmp_path):
    url, _ = warehouse
    folder = tmp_path / "backups"
    backup.backup_warehouse(url, folder, now=T1)

    def tamper(scratch) -> None:
        statements = ("UPDATE news_articles SET title = title || '!' WHERE article_id = (SELECT min(article_id) FROM news_articles)",
                      "DELETE FROM quality_audit WHERE id = 3")
        if url.startswith("sqlite"):
            with sqlite3.connect(scratch) as conn:
                for s in statements:
                    conn.execute(s)
        else:
            with psycopg.connect(scratch.replace("postgresql+psycopg", "postgresql")) as conn:
                for s in statements:
                    conn.execute(s)

    report = backup.restore_test_latest(url, folder, _scratch(url, tmp_path), before_verify=tamper)
    assert not report.match
    assert sorted(_bare(t) for t in report.mismatched) == ["news_articles", "quality_audit"]
    audit = next(t for t in report.tables if _bare(t.table) == "quality_audit")
    assert (audit.source_rows, audit.restored_rows) == (7, 6)
    assert "MISMATCH" in report.to_markdown()


def test_a_backup_is_written_whole_or_not_at_all_and_needs_its_manifest(warehouse, tmp_path):
    url, _ = warehouse
    folder = tmp_path / "backups"
    with pytest.raises(backup.BackupError, match="no stored backup"):
        backup.restore_test_latest(url, folder, _scratch(url, tmp_path))
    done = backup.backup_warehouse(url, folder, now=T1)
    assert not list(folder.glob("*.partial"))
    manifest = Manifest.read(done.path)
    assert _schema_tables(manifest.tables) == _warehouse_tables()
    # A backup whose manifest is gone is not a verifiable backup: it is not "the latest".
    manifest_path(done.path).unlink()
    assert backup.latest_backup(folder) is None


def _fake_backup(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_bytes(b"x")
    manifest_path(path).write_text("{}")
    return path


def test_retention_deletes_old_backups_by_their_stamp_and_keeps_the_newest(tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    old_pg = _fake_backup(folder, "wh_20251101T060000Z.dump")
    old_sqlite = _fake_backup(folder, "warehouse_20251120T060000Z.sqlite")
    recent = _fake_backup(folder, "wh_20251225T060000Z.dump")
    stranger = folder / "notes.txt"
    stranger.write_text("not ours")
    now = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    removed = backup.prune_backups(folder, keep_days=30, now=now)
    assert sorted(p.name for p in removed) == [old_sqlite.name, old_pg.name]
    assert not manifest_path(old_pg).exists() and recent.exists() and stranger.exists()
    # However old, the newest backup of a warehouse is never deleted.
    assert backup.prune_backups(folder, keep_days=1, now=now + dt.timedelta(days=400)) == []
    assert recent.exists()
    # Retention by warehouse: another database's dumps are not counted as this one's newest.
    other = _fake_backup(folder, "other_20250101T000000Z.dump")
    assert backup.prune_backups(folder, keep_days=30, now=now, prefix="wh") == []
    assert other.exists()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_backup_and_restore_jobs_on_each_backend(backend, request, tmp_path, monkeypatch):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'wh.sqlite'}"
    else:
        url = request.getfixturevalue("pg_databases")["warehouse"]
        reset_postgres_schema(url)
        create_warehouse_engine.cache_clear()
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, url)
    path = write_config(tmp_path)
    config = load_config(path)
    defs = build_definitions(str(path))
    with dg.instance_for_test() as instance:
        assert run_prices_job(config, str(path), pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-06"), instance=instance).success
        dumped = defs.resolve_job_def("warehouse_backup_job").execute_in_process(instance=instance)
        tested = defs.resolve_job_def("backup_restore_test_job").execute_in_process(instance=instance)
    assert dumped.success and tested.success

    def output_metadata(result):
        return next(e for e in result.all_events if e.event_type_value == "STEP_OUTPUT").event_specific_data.metadata

    stored = output_metadata(dumped)
    assert stored["stored_backups"].value == 1 and stored["rows"].value > 0
    report = output_metadata(tested)
    assert report["match"].value is True and report["dump_path"].value == stored["backup"].value
    checked = _schema_tables(r["table"] for r in report["tables_checked"].value)
    assert checked == _warehouse_tables()
    prices = next(r for r in report["tables_checked"].value if _bare(r["table"]) == "prices")
    assert prices["restored_rows"] == 5 * 13  # 12 test symbols and the benchmark, 5 sessions
    assert 0 <= report["backup_age_days"].value < 1
    if backend == "postgres":
        scratch = sa.engine.make_url(url).database + "_restore_test"
        engine = sa.create_engine(sa.engine.make_url(url).set(database="postgres"))
        with engine.connect() as conn:
            left = conn.execute(sa.text("SELECT count(*) FROM pg_database WHERE datname = :d"), {"d": scratch}).scalar()
        engine.dispose()
        assert left == 0  # the scratch database is gone


def test_a_write_during_the_backup_is_in_neither_the_backup_nor_its_manifest(warehouse, tmp_path, monkeypatch):
    """The manifest and the copy come from one snapshot: a row committed by another connection
    while the backup runs (here: between the fingerprints and the page copy / pg_dump) is in
    neither, so the stored backup still proves itself."""
    url, engine = warehouse
    folder = tmp_path / "backups"

    def write_meanwhile() -> None:
        fill_every_table(engine, 1, offset=500)

    if url.startswith("sqlite"):
        import autoindex_pipeline.maintenance.sqlite_backup as target

        real = target.fingerprint_tables

        def fingerprints_then_write(conn, tables):
            out = real(conn, tables)
            write_meanwhile()
            return out

        monkeypatch.setattr(target, "fingerprint_tables", fingerprints_then_write)
    else:
        # After the snapshot is exported and before the fingerprints read: under read committed
        # the fingerprints would see the row and pg_dump (reading the exported snapshot) not.
        real_session = backup.canonical_session

        def write_then_fingerprint(conn):
            write_meanwhile()
            real_session(conn)

        monkeypatch.setattr(backup, "canonical_session", write_then_fingerprint)
    done = backup.backup_warehouse(url, folder, now=T1)
    monkeypatch.undo()
    assert done.rows == 7 * len(schema.metadata.sorted_tables) + 1 + (0 if url.startswith("postgresql") else _fts_rows(done))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM news_articles")).scalar() == 8  # the write did land
    report = backup.restore_test_latest(url, folder, _scratch(url, tmp_path))
    assert report.match, report.to_markdown()
    assert next(t for t in report.tables if _bare(t.table) == "news_articles").restored_rows == 7


def _fts_rows(done) -> int:
    """Rows of the SQLite full-text index's shadow tables in the manifest."""
    manifest = Manifest.read(done.path)
    return sum(fp.rows for name, fp in manifest.tables.items() if schema.is_search_object(_bare(name)) and not isinstance(fp, str))


def test_backup_age_from_the_manifest_stamp():
    now = dt.datetime(2026, 1, 8, 6, 0, tzinfo=dt.UTC)
    assert backup_age_days("2026-01-05T06:00:00Z", now) == 3.0
    assert backup_age_days(None, now) is None
