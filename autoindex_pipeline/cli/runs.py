"""Keeping the CLI's runs honest when processes die or wait.

A run executes in the process that started it (``execute_in_process``), so when that process is
SIGKILLed (OOM killer, a closed laptop, ``kill -9``) nobody reports the run's end: it stays
STARTED, and the pool slot its ``prices`` step claimed (pool ``provider_prices``, limit 1 in the
shipped dagster.yaml) is never given back, so every later run waits at ``prices`` for good.
Dagster's daemon frees slots only of runs already marked finished, and only when a daemon runs.

So every run the CLI starts carries its host, PID and process start time as tags, and before a
new run starts, runs of this host whose process is gone are marked failed and their slots freed.
While a run waits for a slot the console says for which pool and behind which run, the wait
sleeps instead of spinning, and SIGTERM ends the run (marked canceled, slots freed) instead of
being deferred by Dagster's interrupt handling until a step boundary that a waiting run never
reaches (``patch_pool_waiting``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

HOST_TAG = "autoindex/host"
PID_TAG = "autoindex/pid"
PROCESS_START_TAG = "autoindex/process_start"
POOL_POLL_SECONDS = 2.0
TERMINATED_MESSAGE = "canceled: the autoindex process was interrupted (SIGTERM or Ctrl-C)"

Notify = Callable[[str], None]


def stderr_notify(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class RunTerminated(BaseException):
    """SIGTERM (or Ctrl-C) arrived during a run. A BaseException, so no step's ``except Exception`` swallows
    it and every ``finally`` / ``with`` on the way out (open transactions, pending claims) runs."""

    run_id: str | None = None
    status: str = "canceled"


# ---------------------------------------------------------------- who started a run


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux); a PID reused by another
    process has another start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def process_tags() -> dict[str, str]:
    pid = os.getpid()
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(pid)}
    start = _process_start(pid)
    if start is not None:
        tags[PROCESS_START_TAG] = start
    return tags


def process_alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    if start is None:
        return True
    current = _process_start(pid)
    return current is None or current == start


def _started_here_and_gone(tags: dict[str, str], host: str) -> bool:
    if tags.get(HOST_TAG) != host or not tags.get(PID_TAG, "").isdigit():
        return False
    return not process_alive(int(tags[PID_TAG]), tags.get(PROCESS_START_TAG))


def reap_dead_runs(instance, notify: Notify = stderr_notify) -> list[str]:
    """Runs this host's CLI started whose process is gone: unfinished ones are marked failed, and
    every such run's pool slots are freed (a run marked failed by hand in the UI keeps its slots
    too). Runs of other hosts are left alone: their PIDs mean nothing here. Returns the run ids."""
    import dagster as dg
    from dagster._core.storage.dagster_run import FINISHED_STATUSES

    host = socket.gethostname()
    storage = instance.event_log_storage
    unfinished = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
                  dg.DagsterRunStatus.CANCELING]
    candidates = {
        record.dagster_run.run_id: record.dagster_run
        for record in instance.get_run_records(filters=dg.RunsFilter(statuses=unfinished, tags={HOST_TAG: host}))
    }
    holders = storage.get_concurrency_run_ids() if storage.supports_global_concurrency_limits else set()
    others = sorted(holders - set(candidates))
    for record in instance.get_run_records(filters=dg.RunsFilter(run_ids=others)) if others else []:
        candidates[record.dagster_run.run_id] = record.dagster_run
    reaped = []
    for run_id, run in candidates.items():
        if not _started_here_and_gone(dict(run.tags), host):
            continue
        pid = run.tags[PID_TAG]
        if run.status not in FINISHED_STATUSES:
            instance.report_run_failed(
                run, message=f"marked failed by autoindex: the process that ran it (PID {pid} on {host}) is gone "
                             "(killed or crashed); re-run the same command to redo its work")
        freed = free_slots(instance, run_id) if run_id in holders else 0
        slots = f"; freed {freed} pool slot(s) it held" if freed else ""
        state = "marked failed" if run.status not in FINISHED_STATUSES else f"already {run.status.value.lower()}"
        notify(f"run {run_id} ({run.job_name}, PID {pid} on {host}) was left behind by a process that is gone: {state}{slots}")
        reaped.append(run_id)
    return reaped


def free_slots(instance, run_id: str) -> int:
    """Give back every pool slot the run holds (and drop its pending claims); how many it held.
    (The storage's own method returns nothing to count.)"""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return 0
    infos = storage.get_concurrency_infos(sorted(storage.get_concurrency_keys()))
    held = sum(1 for info in infos.values() for slot in info.claimed_slots if slot.run_id == run_id)
    storage.free_concurrency_slots_for_run(run_id)
    return held


def end_terminated_run(instance, run_id: str) -> str:
    """After SIGTERM: the run is canceled (unless Dagster already ended it: a step interrupted
    mid-work fails) and its slots freed. Returns its final status, lower case."""
    from dagster._core.storage.dagster_run import FINISHED_STATUSES

    run = instance.get_run_by_id(run_id)
    if run is not None and run.status not in FINISHED_STATUSES:
        instance.report_run_canceled(run, message=TERMINATED_MESSAGE)
    free_slots(instance, run_id)
    run = instance.get_run_by_id(run_id)
    return run.status.value.lower() if run is not None else "unknown"


def was_interrupted(instance, result) -> bool:
    """The run ended because this process was signalled: canceled, or a step interrupted."""
    import dagster as dg

    run = instance.get_run_by_id(result.run_id)
    if run is not None and run.status in (dg.DagsterRunStatus.CANCELED, dg.DagsterRunStatus.CANCELING):
        return True
    return any(
        getattr(getattr(event.event_specific_data, "error", None), "cls_name", None) == "DagsterExecutionInterruptedError"
        for event in result.get_step_failure_events()
    )


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """SIGTERM raises RunTerminated in the main thread (where the run executes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame) -> None:
        raise RunTerminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------- waiting for a pool


def patch_pool_waiting() -> None:
    """Two faults of Dagster 1.13's in-process executor while a step waits for a pool slot:

    * it spins a core: the wait until the next claim attempt is ``min([0, *times_left])``, never
      above 0, so ``sleep_til_ready`` never sleeps (measured: 1.6 s of CPU per 2 s of waiting);
    * it ignores SIGTERM: during a run Dagster maps SIGTERM and SIGINT to a handler that only sets
      a flag, read at step boundaries, and a waiting step never reaches one.

    So the wait sleeps until the next claim attempt (at most a second, so a signal is seen), and a
    claim attempt after a captured signal cancels the run the way Dagster's own termination does
    (a CANCELING request, then the interruption). The claim schedule is unchanged."""
    from dagster._core.errors import DagsterExecutionInterruptedError
    from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
    from dagster._utils.interrupts import check_captured_interrupt

    if getattr(InstanceConcurrencyContext, "_autoindex_patched", False):
        return
    dagster_claim = InstanceConcurrencyContext.claim

    def interval_to_next_pending_claim_check(self) -> float:
        if not self._pending_claims or not self._pending_timeouts:
            return 0.0
        return min(1.0, max(0.0, min(self._pending_timeouts.values()) - time.time()))

    def claim(self, concurrency_key: str, step_key: str, step_priority: int = 0) -> bool:
        if check_captured_interrupt():
            # A termination request first, so Dagster ends the run as canceled, not as an
            # unexpected failure with a stack trace.
            run = self._instance.get_run_by_id(self._run_id)
            if run is not None:
                self._instance.report_run_canceling(run, message=TERMINATED_MESSAGE)
            raise DagsterExecutionInterruptedError()
        return dagster_claim(self, concurrency_key, step_key, step_priority)

    InstanceConcurrencyContext.interval_to_next_pending_claim_check = interval_to_next_pending_claim_check
    InstanceConcurrencyContext.claim = claim
    InstanceConcurrencyContext._autoindex_patched = True


def pool_waits(instance, run_id: str) -> list[str]:
    """One line per pool the run has a step waiting in: the pool, its limit and who holds it."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    lines = []
    for key in sorted(storage.get_concurrency_keys()):
        info = storage.get_concurrency_info(key)
        waiting = sorted({s.step_key for s in info.pending_steps if s.run_id == run_id and s.assigned_timestamp is None})
        if not waiting:
            continue
        holders = []
        for slot in info.claimed_slots:
            run = instance.get_run_by_id(slot.run_id)
            status = run.status.value.lower() if run is not None else "unknown"
            where = f", PID {run.tags[PID_TAG]} on {run.tags[HOST_TAG]}" if run is not None and PID_TAG in run.tags else ""
            holders.append(f"run {slot.run_id} step {slot.step_key} ({status}{where})")
        held = "; held by " + ", ".join(holders) if holders else ""
        lines.append(f"waiting: step {', '.join(waiting)} waits for a slot in pool {key!r} "
                     f"(limit {info.slot_count}){held}. It starts when that run ends; if that run's process is "
                     f"gone, the next autoindex run on its host frees the slot, or free it in the UI "
                     f"(Deployment > Concurrency > {key})")
    return lines


def pools_limited(instance) -> bool:
    """Whether any pool has a limit here (the embedded SQLite instance has none: no polling)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return False
    return storage.get_pool_config().default_pool_limit is not None or bool(storage.get_concurrency_keys())


class PoolWatch:
    """A thread that says, once per change, when the run waits for a pool slot."""

    def __init__(self, instance, run_id: str, notify: Notify = stderr_notify, interval: float = POOL_POLL_SECONDS):
        self._instance, self._run_id, self._notify, self._interval = instance, run_id, notify, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"pool-watch-{run_id[:8]}", daemon=True)
        self._said: tuple[str, ...] = ()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                lines = tuple(pool_waits(self._instance, self._run_id))
            except Exception:  # a watcher must never break the run it watches
                continue
            if lines and lines != self._said:
                for line in lines:
                    self._notify(line)
            elif self._said and not lines:
                self._notify("waiting: got the pool slot; the run goes on")
            self._said = lines

    def __enter__(self) -> PoolWatch:
        if pools_limited(self._instance):
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._interval + 5)
