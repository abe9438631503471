"""Running provider fetches inside assets.

Progress of long fetches: a line in the Dagster log every tenth of the work, and a terminal
progress bar when a person is watching (stderr is a TTY and AUTOINDEX_PROGRESS is not 0)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from logging import Logger
from typing import TypeVar

import dagster as dg

from tqdm import tqdm

from autoindex_pipeline.providers.prices.base import ProviderError

T = TypeVar("T")


def progress_bar_enabled() -> bool:
    return os.environ.get("AUTOINDEX_PROGRESS", "1") != "0" and sys.stderr.isatty()


class FetchProgress:
    def __init__(self, log: Logger, what: str, total: int) -> None:
        self._log = log
        self._what = what
        self._total = max(total, 1)
        self._next_decile = 1
        self._bar = tqdm(total=total, desc=what, unit="sym", disable=not progress_bar_enabled(), leave=False)

    def __call__(self, done: int, total: int) -> None:
        self._bar.update(done - self._bar.n)
        if done * 10 >= self._next_decile * self._total:
            self._log.info(f"{self._what}: {done}/{total} symbols fetched")
            self._next_decile = done * 10 // self._total + 1

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
