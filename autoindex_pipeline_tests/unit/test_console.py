"""The run console: a heartbeat when nothing was printed for 10 s (fake clock), and Dagster's
ERROR lines without their stack trace unless --verbose."""

from __future__ import annotations

import logging

import pytest

from autoindex_pipeline.cli import console
from autoindex_pipeline.cli.console import Console, Heartbeat, run_console


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def test_heartbeat_only_after_ten_silent_seconds() -> None:
    clock, said = FakeClock(), []
    beat = Heartbeat("prices_job", said.append, clock=clock)
    for _ in range(9):
        clock.now += 1
        beat.tick()
    assert said == []
    clock.now += 1
    beat.tick()
    assert said == ["... prices_job still running (10 s in, 10 s since the last line)"]
    clock.now += 4
    beat.saw_line("market_cap_data")
    for _ in range(12):
        clock.now += 1
        beat.tick()
    assert said[1:] == ["... prices_job still running (24 s in, 10 s since the last line; last line from step market_cap_data)"]


def test_dagster_error_lines_lose_their_stack_trace_unless_verbose(monkeypatch: pytest.MonkeyPatch,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(Console, "tracebacks", False)
    monkeypatch.setattr(Console, "heartbeat", False)
    message = 'Execution of step "prices" failed.\n\nValueError: bad\n\nStack Trace:\n  File "x.py", line 1'
    with run_console("prices_job", print):
        logger = logging.getLoggerClass()(console.DAGSTER_CONSOLE_LOGGER, level=logging.INFO)
    logger.addHandler(caplog.handler)
    logger.error(message)
    assert caplog.messages[-1].startswith('Execution of step "prices" failed.\n\nValueError: bad\n(stack trace: in the run')
    assert "File \"x.py\"" not in caplog.messages[-1]
    monkeypatch.setattr(Console, "tracebacks", True)
    logger.error(message)
    assert caplog.messages[-1] == message
    assert logging.getLoggerClass() is logging.Logger
