import pytest

from autoindex_pipeline.config import CONFIG_ENV_VAR, DATABASE_URL_ENV_VAR, ConfigError, load_config
from autoindex_pipeline_tests.conftest import write_config


def test_packaged_default_loads_the_whole_universe():
    config = load_config()
    universe = config.universe_frame
    assert config.universe.benchmark == "SPY"
    assert len(universe) > 500
    assert {"SPY", "QQQ", "IWM", "VTI", "VXUS", "GLD", "SLV", "USO", "DBA"} <= set(universe["symbol"])
    assert universe.loc[universe["symbol"] == "SPY", "is_benchmark"].item()
    assert universe["is_benchmark"].sum() == 1
    default = config.strategies["default"]
    assert (default.momentum_weight, default.market_cap_weight, default.risk_parity_weight) == (0.4, 0.3, 0.3)
    assert default.rebalance_frequency == "weekly"


def test_misspelt_key_is_named(tmp_path):
    path = write_config(tmp_path, providers={"prices": "sample", "sampel": {"seed": 1}})
    with pytest.raises(ConfigError, match=r"providers\.sampel: unknown key"):
        load_config(path)


def test_negative_weight_is_named(tmp_path):
    path = write_config(tmp_path, strategies={"default": {"momentum_weight": -0.1}})
    with pytest.raises(ConfigError, match=r"strategies\.default\.momentum_weight: Input should be greater than or equal to 0"):
        load_config(path)


def test_all_zero_weights_rejected(tmp_path):
    path = write_config(
        tmp_path, strategies={"default": {"momentum_weight": 0, "market_cap_weight": 0, "risk_parity_weight": 0}}
    )
    with pytest.raises(ConfigError, match="must be > 0"):
        load_config(path)


def test_unknown_provider_is_named(tmp_path):
    path = write_config(tmp_path, providers={"prices": "yahoo"})
    with pytest.raises(ConfigError, match=r"providers\.prices: Input should be 'sample', 'files' or 'twelvedata'"):
        load_config(path)


def test_files_provider_needs_a_path(tmp_path):
    path = write_config(tmp_path, providers={"prices": "files"})
    with pytest.raises(ConfigError, match="prices_path is required"):
        load_config(path)


def test_benchmark_must_be_in_universe(tmp_path):
    path = write_config(tmp_path, universe={"benchmark": "NOPE"})
    with pytest.raises(ConfigError, match="universe.benchmark: 'NOPE'"):
        load_config(path)


def test_unknown_symbol_subset_is_named(tmp_path):
    path = write_config(tmp_path, universe={"symbols": ["AAPL", "ZZZZ9"]})
    with pytest.raises(ConfigError, match=r"universe.symbols: \['ZZZZ9'\]"):
        load_config(path)


def test_bad_asset_class_names_line_and_column(tmp_path):
    universe = tmp_path / "u.csv"
    universe.write_text("symbol,name,asset_class,sector\nSPY,S&P,etf,Broad\nAAA,A Co,stonk,Tech\n")
    path = write_config(tmp_path, universe={"file": "u.csv", "symbols": None})
    with pytest.raises(ConfigError, match=r"line 3, column 'asset_class': 'stonk'"):
        load_config(path)


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    universe = tmp_path / "u.csv"
    universe.write_text("symbol,name,asset_class,sector\nSPY,S&P,etf,Broad\nAAA,A Co,equity,Tech\n")
    path = write_config(tmp_path, universe={"file": "u.csv", "symbols": None})
    assert load_config(path).symbols == ["AAA", "SPY"]


def test_env_var_selects_the_file_and_the_database(tmp_path, monkeypatch):
    path = write_config(tmp_path, prices={"start_date": "2020-01-02"})
    monkeypatch.setenv(CONFIG_ENV_VAR, str(path))
    config = load_config()
    assert str(config.prices.start_date) == "2020-01-02"
    assert config.database_url().startswith("sqlite:///")
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, "postgresql://u:secret@db/wh")
    assert config.database_url() == "postgresql://u:secret@db/wh"


def test_invalid_yaml_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("universe: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_strategy_key_errors_are_named_one_per_line(tmp_path):
    path = write_config(
        tmp_path,
        strategies={"default": {"momentum_lookbak": 5}, "capped": {"max_asset_weight": 1.5, "daily_drop_threshold": 0.01}},
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "  strategies.default.momentum_lookbak: unknown key" in message
    assert "  strategies.capped.max_asset_weight: Input should be less than or equal to 1\n" in message
    assert "  strategies.capped.daily_drop_threshold: Input should be less than 0" in message


def test_strategy_cross_key_rule_names_the_strategy(tmp_path):
    path = write_config(tmp_path, strategies={"default": {"min_history": 61}})
    with pytest.raises(ConfigError, match=r"strategies\.default: Value error, min_history \(61\) must be <= vol_lookback \(60\)"):
        load_config(path)


def test_strategy_type_errors_come_from_the_loader(tmp_path):
    path = write_config(tmp_path, strategies={"default": {"rebalance_frequency": "hourly", "min_history": "many"}})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "strategies.default.rebalance_frequency: Input should be 'daily', 'weekly', 'monthly' or 'quarterly'" in str(info.value)
    assert "strategies.default.min_history: Input should be a valid integer" in str(info.value)
