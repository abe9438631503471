"""The fake TwelveData the provider tests talk to: a local HTTP server (pytest-httpserver) that
replays recorded or documented bodies, and providers built against it on a fake clock.

A pytest plugin: a test module names it in ``pytest_plugins`` and gets the fixtures ``clock``,
``make_provider`` and ``no_unmatched_requests``. The modules also import its constants before
pytest loads it as a plugin, so it opts out of assertion rewriting (it asserts nothing):
PYTEST_DONT_REWRITE."""

from __future__ import annotations

import datetime as dt

import pytest
from pytest_httpserver import HTTPServer

from autoindex_pipeline.providers.prices.twelvedata import TwelveDataProvider
from autoindex_pipeline_tests.fakes import FakeClock, fake_server_providers, json_fixture

KEY = "td-test-KEY-0123456789abcdef"
NOW = dt.datetime(2024, 1, 10, 15, 0, 45, tzinfo=dt.UTC).timestamp()  # 10:00:45 in New York


def fixture(name: str) -> dict:
    return json_fixture("twelvedata", name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def no_unmatched_requests(httpserver: HTTPServer):
    """Fails the test if the server got a request no expectation matched."""
    yield
    httpserver.check_assertions()


@pytest.fixture
def make_provider(httpserver: HTTPServer, clock: FakeClock):
    """``make(**kwargs)``: a TwelveDataProvider against the fake server on the fake clock."""
    with fake_server_providers(TwelveDataProvider, KEY, httpserver, clock) as make:
        yield make
