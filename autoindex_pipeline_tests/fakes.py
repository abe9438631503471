"""Test doubles shared by the provider tests."""


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
