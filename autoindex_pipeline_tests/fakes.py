"""Test doubles shared by the provider tests."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from autoindex_pipeline.providers.http import RetryPolicy

FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Fast, deterministic retries for providers against a fake server (the clock is fake too).
FAKE_SERVER_RETRY = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=30.0, jitter=0.0)


class FakeClock:
    """Epoch seconds that only move when something sleeps: rate limiters and retry backoff
    run in fake time, so no test really waits."""

    def __init__(self, now: float = 1_704_902_400.0) -> None:  # 2024-01-10 16:00 UTC
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@contextlib.contextmanager
def fake_server_providers(cls, secret: str, httpserver, clock: FakeClock):
    """``make(**kwargs)``: a ``cls(secret, ...)`` HTTP provider against ``httpserver`` on
    ``clock`` (``retry`` and ``base_url`` overridable); every one made is closed on exit."""
    made = []

    def make(**kwargs):
        kwargs.setdefault("retry", FAKE_SERVER_RETRY)
        kwargs.setdefault("base_url", httpserver.url_for(""))
        provider = cls(secret, clock=clock, sleep=clock.sleep, timeout=2.0, **kwargs)
        made.append(provider)
        return provider

    try:
        yield make
    finally:
        for provider in made:
            provider.close()


def json_fixture(provider: str, name: str) -> dict:
    """A recorded (or documented-shape) response body: fixtures/<provider>/<name>."""
    return json.loads((FIXTURES / provider / name).read_text())
