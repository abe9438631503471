"""`autoindex` in a child process, for the tests that kill or signal it mid-run.

With ``AUTOINDEX_TEST_HOLD_DIR`` set, the sample price provider stops inside its fetch (the
`prices` step, holding its pool slot) after writing ``fetching-<pid>`` there, until a file
``release`` appears: a test-only provider, so a test can kill the process at a known point
without sleeping for a guessed time.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

HOLD_DIR_ENV = "AUTOINDEX_TEST_HOLD_DIR"
HOLD_LIMIT_SECONDS = 300


def install_holding_provider(hold_dir: Path) -> None:
    from autoindex_pipeline.providers import registry
    from autoindex_pipeline.providers.prices.sample import SampleProvider

    class HoldingProvider(SampleProvider):
        def fetch_prices(self, symbols, start, end, progress=None):
            (hold_dir / f"fetching-{os.getpid()}").write_text("")
            deadline = time.monotonic() + HOLD_LIMIT_SECONDS
            while not (hold_dir / "release").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            return super().fetch_prices(symbols, start, end, progress=progress)

    def build(config, secret):
        return HoldingProvider(config.universe_frame, seed=config.providers.sample.seed, calendar=config.prices.calendar)

    registry.PRICE_PROVIDERS["sample"] = registry.ProviderEntry(build)


if __name__ == "__main__":
    if os.environ.get(HOLD_DIR_ENV):
        install_holding_provider(Path(os.environ[HOLD_DIR_ENV]))
    from autoindex_pipeline.cli import main

    main(sys.argv[1:], prog_name="autoindex")
