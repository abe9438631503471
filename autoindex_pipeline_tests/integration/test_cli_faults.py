"""`autoindex run` when processes die, wait or are told to stop, on the production instance (the
shipped dagster.yaml: PostgreSQL storage, pool `provider_prices` limited to 1) and on a fresh
embedded data dir. Real child processes (`cli_process.py`), real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from autoindex_pipeline.config import DATABASE_URL_ENV_VAR
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline_tests.conftest import reset_postgres_schema, write_config
from autoindex_pipeline_tests.integration.cli_process import HOLD_DIR_ENV
from autoindex_pipeline_tests.integration.conftest import production_instance

CLI = [sys.executable, "-m", "autoindex_pipeline_tests.integration.cli_process"]
REPO_ROOT = Path(__file__).resolve().parents[2]
RUN = ["run", "--start", "2025-06-02", "--end", "2025-06-03", "--select", "prices"]


class Child:
    """One `autoindex` process; its stderr and stdout go to files the test reads as it goes."""

    def __init__(self, tmp_path: Path, name: str, args: list[str], hold: Path | None = None) -> None:
        env = dict(os.environ)
        env.pop(HOLD_DIR_ENV, None)
        if hold is not None:
            env[HOLD_DIR_ENV] = str(hold)
        self.out, self.err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen([*CLI, *args], cwd=REPO_ROOT, env=env, stdout=out, stderr=err)

    def text(self) -> str:
        return self.out.read_text() + self.err.read_text()

    def wait_for(self, predicate, timeout: float = 120, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.proc.poll() is not None:
                pytest.fail(f"process ended ({self.proc.returncode}) before {what}:\n{self.text()[-3000:]}")
            time.sleep(0.1)
        pytest.fail(f"timed out waiting for {what}:\n{self.text()[-3000:]}")

    def finish(self, timeout: float = 180) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"still running after {timeout} s:\n{self.text()[-3000:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def production(pg_databases, tmp_path, monkeypatch):
    """DAGSTER_HOME with the shipped dagster.yaml on the test PostgreSQL, a SQLite warehouse,
    a small config; yields (config path, instance)."""
    reset_postgres_schema(pg_databases["dagster"])
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, f"sqlite:///{tmp_path / 'wh.sqlite'}")
    create_warehouse_engine.cache_clear()
    config = write_config(tmp_path)
    with production_instance(pg_databases["dagster"], tmp_path, monkeypatch) as instance:
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
        yield str(config), instance


def _runs(instance: dg.DagsterInstance) -> dict[str, dg.DagsterRun]:
    return {r.dagster_run.run_id: r.dagster_run for r in instance.get_run_records()}


def _slot_holders(instance: dg.DagsterInstance) -> set[str]:
    return instance.event_log_storage.get_concurrency_info("provider_prices").active_run_ids


@pytest.mark.heavy(25)
def test_a_sigkilled_run_no_longer_blocks_the_next(production, tmp_path):
    config, instance = production
    hold = tmp_path / "hold"
    hold.mkdir()
    first = Child(tmp_path, "first", [*RUN, "--config", config], hold=hold)
    try:
        first.wait_for(lambda: any(hold.glob("fetching-*")), what="the first run to reach its fetch")
        (killed,) = _runs(instance)
        assert _slot_holders(instance) == {killed}
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
    finally:
        first.kill()
    assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.STARTED  # nobody told Dagster

    second = Child(tmp_path, "second", [*RUN, "--config", config])
    assert second.finish() == 0, second.text()
    text = second.text()
    assert f"run {killed} (prices_job, PID {first.proc.pid} on " in text
    assert "was left behind by a process that is gone: marked failed; freed 1 pool slot(s) it held" in text
    dead = instance.get_run_by_id(killed)
    assert dead.status == dg.DagsterRunStatus.FAILURE
    failure = [e for e in instance.all_logs(killed) if e.dagster_event and e.dagster_event.event_type_value == "PIPELINE_FAILURE"]
    assert "is gone (killed or crashed)" in failure[-1].message
    assert _slot_holders(instance) == set()
    assert {r.status for r in _runs(instance).values()} == {dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS}


@pytest.mark.heavy(25)
def test_a_waiting_run_says_why_and_sigterm_cancels_it(production, tmp_path):
    config, instance = production
    hold = tmp_path / "hold"
    hold.mkdir()
    holder = Child(tmp_path, "holder", [*RUN, "--config", config], hold=hold)
    waiter = None
    try:
        holder.wait_for(lambda: any(hold.glob("fetching-*")), what="the first run to reach its fetch")
        (holding,) = _runs(instance)
        waiter = Child(tmp_path, "waiter", [*RUN, "--config", config])
        waiter.wait_for(lambda: "waits for a slot in pool 'provider_prices'" in waiter.text(), what="the wait message")
        text = waiter.text()
        assert "waiting: step prices waits for a slot in pool 'provider_prices' (limit 1); held by run " + holding in text
        assert f"PID {holder.proc.pid} on " in text
        (waiting,) = set(_runs(instance)) - {holding}
        # Waiting costs no CPU to speak of: the poll sleeps.
        cpu_before = _cpu_seconds(waiter.proc.pid)
        time.sleep(2)
        assert _cpu_seconds(waiter.proc.pid) - cpu_before < 1.0
        waiter.proc.send_signal(signal.SIGTERM)
        code = waiter.finish(timeout=30)
        assert code == 143, waiter.text()
        assert f"run {waiting} canceled (interrupted: SIGTERM or Ctrl-C)" in waiter.text()
        assert "Traceback (most recent call last)" not in waiter.text()
        assert instance.get_run_by_id(waiting).status == dg.DagsterRunStatus.CANCELED
        assert _slot_holders(instance) == {holding}
        (hold / "release").write_text("")
        assert holder.finish() == 0, holder.text()
    finally:
        holder.kill()
        if waiter is not None:
            waiter.kill()
    assert instance.get_run_by_id(holding).status == dg.DagsterRunStatus.SUCCESS
    assert _slot_holders(instance) == set()


def test_a_sigkilled_run_on_the_embedded_default_is_marked_failed(tmp_path, monkeypatch):
    # No pools on the embedded SQLite instance, so nothing waits; but the killed run would stay
    # STARTED in the UI for good.
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv(DATABASE_URL_ENV_VAR, raising=False)
    config = str(write_config(tmp_path))
    hold = tmp_path / "hold"
    hold.mkdir()
    first = Child(tmp_path, "first", [*RUN, "--config", config], hold=hold)
    try:
        first.wait_for(lambda: any(hold.glob("fetching-*")), what="the first run to reach its fetch")
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
    finally:
        first.kill()
    second = Child(tmp_path, "second", [*RUN, "--config", config])
    assert second.finish() == 0, second.text()
    assert "was left behind by a process that is gone: marked failed\n" in second.text()
    with dg.DagsterInstance.from_config(str(tmp_path / "data" / "dagster_home")) as instance:
        assert sorted(r.dagster_run.status.value for r in instance.get_run_records()) == ["FAILURE", "SUCCESS"]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_two_commands_bootstrap_a_fresh_data_dir_at_once(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv(DATABASE_URL_ENV_VAR, raising=False)
    config = str(write_config(tmp_path))
    children = [Child(tmp_path, f"run{i}", [*RUN, "--config", config]) for i in range(2)]
    codes = [c.finish() for c in children]
    for child, code in zip(children, codes, strict=True):
        assert code == 0, child.text()
        assert "already exists" not in child.text()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'data' / 'warehouse.sqlite'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(DISTINCT date) FROM prices")).scalar() == 2
