"""What a run prints on the console while it runs, beyond Dagster's own lines.

* Without ``--verbose``, Dagster's ERROR lines keep an error's message but not its stack trace
  (the run's event log in the UI keeps everything).
* Without a terminal (cron, CI, a pipe), nobody sees a progress bar, and some work logs nothing
  for a while (run start and reference data, Dagster's bookkeeping after a long range, the index):
  a line at least every ``HEARTBEAT_SECONDS`` says the run is alive and what it last did.

Dagster builds each run's console logger with ``logging.getLoggerClass()``, so for the length of
a run that class is ours: it trims and time-stamps the lines, and a thread does the heartbeat.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator

HEARTBEAT_SECONDS = 10.0
DAGSTER_CONSOLE_LOGGER = "dagster"


class Console:
    """Set by the CLI: ``tracebacks`` (``--verbose``), ``heartbeat`` (the CLI, not a test)."""

    tracebacks = True
    heartbeat = False


class Heartbeat:
    """``tick()`` prints a line when nothing was printed for ``every`` seconds; a thread calls
    it each second (tests call it with a fake clock)."""

    def __init__(self, job_name: str, notify: Callable[[str], None], clock: Callable[[], float] = time.monotonic,
                 every: float = HEARTBEAT_SECONDS) -> None:
        self.job_name, self._notify, self._clock, self._every = job_name, notify, clock, every
        self._started = self._last = clock()
        self.last_step: str | None = None

    def saw_line(self, step: str | None = None) -> None:
        self._last = self._clock()
        if step:
            self.last_step = step

    def tick(self) -> None:
        now = self._clock()
        if now - self._last < self._every:
            return
        after = f"; last line from step {self.last_step}" if self.last_step else ""
        self._notify(f"... {self.job_name} still running ({now - self._started:.0f} s in, "
                     f"{now - self._last:.0f} s since the last line{after})")
        self._last = now


_current: Heartbeat | None = None


class _RunConsoleLogger(logging.Logger):
    def handle(self, record: logging.LogRecord) -> None:
        if self.name == DAGSTER_CONSOLE_LOGGER:
            if (not Console.tracebacks and record.levelno >= logging.ERROR and isinstance(record.msg, str)
                    and "Stack Trace:" in record.msg):
                head = record.msg.split("Stack Trace:", 1)[0].rstrip()
                record.msg = f"{head}\n(stack trace: in the run's log in the UI, or run with `autoindex --verbose`)"
                record.args = ()
            if _current is not None and record.levelno >= self.getEffectiveLevel():
                meta = getattr(record, "dagster_meta", None)
                _current.saw_line(meta.get("step_key") if isinstance(meta, dict) else None)
        super().handle(record)


def _no_terminal() -> bool:
    return not sys.stderr.isatty()


@contextlib.contextmanager
def run_console(job_name: str, notify: Callable[[str], None]) -> Iterator[None]:
    """For the length of one run: trimmed ERROR lines (unless --verbose) and, without a
    terminal, the heartbeat."""
    global _current
    if Console.tracebacks and not Console.heartbeat:
        yield
        return
    previous = logging.getLoggerClass()
    logging.setLoggerClass(_RunConsoleLogger)
    stop = threading.Event()
    thread = None
    if Console.heartbeat and _no_terminal():
        _current = Heartbeat(job_name, notify)
        beat = _current

        def loop() -> None:
            while not stop.wait(1.0):
                beat.tick()

        thread = threading.Thread(target=loop, name=f"heartbeat-{job_name}", daemon=True)
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=5)
        _current = None
        logging.setLoggerClass(previous)
