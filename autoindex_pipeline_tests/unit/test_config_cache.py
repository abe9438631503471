"""load_config validates a file once per process: the same bytes (config and universe file) give a
copy of the config validated before; any change of either file is read again."""

import pandas as pd
import yaml

from autoindex_pipeline import config as config_module
from autoindex_pipeline.config import AutoIndexConfig, load_config
from autoindex_pipeline_tests.conftest import write_config


def _count_validations(monkeypatch) -> list[int]:
    calls = [0]
    original = AutoIndexConfig.model_validate.__func__

    def counting(cls, *args, **kwargs):
        calls[0] += 1
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(AutoIndexConfig, "model_validate", classmethod(counting))
    return calls


def test_an_unchanged_file_is_validated_once_and_each_call_gets_its_own_copy(tmp_path, monkeypatch):
    path = write_config(tmp_path)
    calls = _count_validations(monkeypatch)
    first = load_config(path)
    second = load_config(path)
    assert calls[0] == 1
    assert second is not first and second.model_dump() == first.model_dump()
    assert second.universe_frame.equals(first.universe_frame) and second.universe_frame is not first.universe_frame
    # A caller changing its copy changes nobody else's.
    second.strategies.clear()
    second.universe_frame.drop(second.universe_frame.index, inplace=True)
    third = load_config(path)
    assert list(third.strategies) == list(first.strategies) and third.symbols == first.symbols
    assert calls[0] == 1


def test_a_changed_config_or_universe_file_is_read_again(tmp_path, monkeypatch):
    universe = pd.read_csv(config_module.DEFAULT_CONFIG_PATH.parent / "universe.csv", dtype=str, keep_default_na=False)
    universe = pd.concat([universe[universe["symbol"] == "SPY"], universe[universe["symbol"] != "SPY"]])
    universe_path = tmp_path / "universe.csv"
    universe.head(20).to_csv(universe_path, index=False)
    path = write_config(tmp_path, universe={"file": str(universe_path), "symbols": None})
    calls = _count_validations(monkeypatch)
    assert len(load_config(path).symbols) == 20
    # 252 -> 251: the same size, perhaps the same modification time; compared by content.
    raw = yaml.safe_load(path.read_text())
    before = load_config(path).quality.report_sessions
    raw.setdefault("quality", {})["report_sessions"] = 251 if before != 251 else 250
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert load_config(path).quality.report_sessions != before
    assert calls[0] == 2
    universe.head(30).to_csv(universe_path, index=False)
    assert len(load_config(path).symbols) == 30
    assert calls[0] == 3
    assert len(load_config(path).symbols) == 30
    assert calls[0] == 3
