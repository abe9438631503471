"""The README's post-demo commands, parsed from README.md and run in order on a fresh data dir
after `autoindex demo` (issue 16, finding 1 and 7): each works as written on the demo's data. A
command added to, changed in or dropped from that README block changes what this test runs."""

from __future__ import annotations

import shlex

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from autoindex_pipeline.cli import main
from autoindex_pipeline.config import DATABASE_URL_ENV_VAR, DEFAULT_CONFIG_PATH, load_config
from autoindex_pipeline_tests.conftest import write_config
from autoindex_pipeline_tests.test_defs import REPO_ROOT

MARKER = "<!-- post-demo commands: the test parses this block -->"
# Enough names for the packaged strategies' 5% cap (20 at least), JPM for the override.
UNIVERSE = ["AAPL", "MSFT", "AMZN", "ADBE", "GOOGL", "META", "JPM", "XOM", "KO", "PG", "JNJ", "V", "MA", "HD", "PEP",
            "CVX", "MRK", "ABBV", "COST", "WMT", "BAC", "ORCL", "CSCO", "MCD", "DIS", "INTC", "T", "VZ", "GLD", "QQQ"]


def readme_commands() -> list[list[str]]:
    """The commands of the README's post-demo block, as argument lists after ``autoindex``."""
    text = (REPO_ROOT / "README.md").read_text()
    assert MARKER in text, "the README lost its post-demo command block"
    block = text.split(MARKER, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        args = shlex.split(line, comments=True)
        if not args:
            continue
        assert args[0] in (".venv/bin/autoindex", "autoindex"), line
        commands.append(args[1:])
    return commands


def test_the_block_is_what_the_readme_shows():
    commands = readme_commands()
    assert [c[:2] for c in commands][:2] == [["run", "--refresh"], ["export", "index_values"]]
    assert all(c for c in commands)


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """A fresh laptop after `autoindex demo`: no DAGSTER_HOME, no database URL, the packaged
    strategies on a 30-symbol universe, the commands run from the data dir's parent."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv(DATABASE_URL_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    packaged = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    path = write_config(tmp_path, universe={"symbols": UNIVERSE}, strategies=packaged["strategies"])
    monkeypatch.setenv("AUTOINDEX_CONFIG", str(path))
    result = CliRunner().invoke(main, ["demo", "--years", "0.25", "--news-days", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return tmp_path, load_config(path)


@pytest.mark.heavy(40)  # the demo, then every command
def test_every_post_demo_command_works_as_written_in_order(fresh):
    tmp_path, config = fresh
    outputs = []
    for args in readme_commands():
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, f"autoindex {shlex.join(args)}\n{result.output}"
        outputs.append((args, result.output))
    by_command = {" ".join(args[:2]): output for args, output in outputs}
    # The smart refresh plans over what the warehouse holds, not from prices.start_date (2016).
    smart = by_command["run --refresh"]
    assert "planning from the first stored session" in smart and str(config.prices.start_date) not in smart, smart
    index = pd.read_csv(tmp_path / "index.csv")
    assert len(index) > 10 and set(index["strategy"]) == {"default"}
    allocations = pd.read_parquet(tmp_path / "alloc.parquet")
    assert len(allocations) and set(allocations["strategy"]) == {"momentum_monthly"}
    assert "JPM" in by_command["quality audit"] and "2026-08-12" in by_command["quality audit"]
    assert "AutoIndex summary" in outputs[-1][1]
