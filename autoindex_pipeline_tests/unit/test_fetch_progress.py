"""FetchProgress: a log line every tenth of a fetch, and without a terminal at least every
PROGRESS_LOG_SECONDS of a long one (a fake clock: no sleeps)."""

from __future__ import annotations

import logging

import pytest

from autoindex_pipeline.defs.progress import PROGRESS_LOG_SECONDS, FetchProgress


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Lines:
    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    def __call__(self) -> list[str]:
        return self._caplog.messages


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture) -> Lines:
    caplog.set_level(logging.INFO, logger="progress-test")
    return Lines(caplog)


def test_deciles_are_logged(lines: Lines) -> None:
    with FetchProgress(logging.getLogger("progress-test"), "prices", 100, clock=FakeClock()) as progress:
        for done in range(1, 101):
            progress(done, 100)
    assert len(lines()) == 10 and lines()[0] == "prices: 10/100 symbols fetched (0 s)"


def test_a_slow_fetch_logs_by_time_without_a_terminal(lines: Lines, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOINDEX_PROGRESS", "0")
    clock = FakeClock()
    with FetchProgress(logging.getLogger("progress-test"), "prices", 1000, clock=clock) as progress:
        # 30 symbols in 60 s, a callback every 2 s: no decile reached, yet a line every 10 s.
        for done in range(1, 31):
            clock.now += 2
            progress(done, 1000)
    assert len(lines()) == 60 // PROGRESS_LOG_SECONDS
    assert lines()[0] == "prices: 5/1000 symbols fetched (10 s)"
    assert lines()[-1] == "prices: 30/1000 symbols fetched (60 s)"
    assert all("/1000 symbols fetched" in line for line in lines())


def test_no_time_lines_while_a_progress_bar_is_drawn(lines: Lines, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("autoindex_pipeline.defs.progress.progress_bar_enabled", lambda: True)
    clock = FakeClock()
    with FetchProgress(logging.getLogger("progress-test"), "prices", 1000, clock=clock) as progress:
        for done in range(1, 20):
            clock.now += 30
            progress(done, 1000)
    assert lines() == []
