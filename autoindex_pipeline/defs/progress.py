"""Running provider fetches inside assets.

Progress of long fetches: a line in the Dagster log every tenth of the work, and a terminal
progress bar when a person is watching (stderr is a TTY and AUTOINDEX_PROGRESS is not 0). Without
the bar (a cron job, a CI log, a pipe) a tenth of a long fetch can take a minute, so a line is
also logged whenever ``PROGRESS_LOG_SECONDS`` have passed since the last one."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from logging import Logger
from typing import TypeVar

import dagster as dg
from tqdm import tqdm

from autoindex_pipeline.providers.prices.base import ProviderError

T = TypeVar("T")
PROGRESS_LOG_SECONDS = 10.0


def progress_bar_enabled() -> bool:
    return os.environ.get("AUTOINDEX_PROGRESS", "1") != "0" and sys.stderr.isatty()


class FetchProgress:
    def __init__(self, log: Logger, what: str, total: int, clock: Callable[[], float] = time.monotonic,
                 every_seconds: float = PROGRESS_LOG_SECONDS) -> None:
        self._log = log
        self._what = what
        self._total = max(total, 1)
        self._next_decile = 1
        bar_enabled = progress_bar_enabled()
        self._bar = tqdm(total=total, desc=what, unit="sym", disable=not bar_enabled, leave=False)
        self._clock = clock
        self._every = None if bar_enabled else every_seconds
        self._started = self._last_line = clock()

    def __call__(self, done: int, total: int) -> None:
        self._bar.update(done - self._bar.n)
        now = self._clock()
        if done * 10 >= self._next_decile * self._total:
            self._next_decile = done * 10 // self._total + 1
        elif self._every is None or now - self._last_line < self._every:
            return
        self._last_line = now
        self._log.info(f"{self._what}: {done}/{total} symbols fetched ({now - self._started:.0f} s)")

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> FetchProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fetch_or_fail(fetch: Callable[[], T], provider_name: str) -> T:
    """Run a provider call; a provider error (bad file, bad key, exhausted quota) becomes a
    Dagster Failure whose description is the provider's own message (already free of secrets),
    instead of a stack trace whose first line says nothing."""
    try:
        return fetch()
    except ProviderError as exc:
        raise dg.Failure(description=f"{provider_name}: {exc}") from None
