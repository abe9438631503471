from importlib.metadata import version


def test_dagster_family_is_one_release():
    core = version("dagster")
    assert version("dagster-webserver") == core
    assert version("dagster-graphql") == core
    # Integration libraries are numbered 0.(minor+16).patch alongside core 1.minor.patch.
    major, minor, patch = core.split(".")[:3]
    assert version("dagster-postgres") == f"0.{int(minor) + 16}.{patch}"


def test_packaged_strategy_versions_are_pinned():
    # Versions name the rows in users' warehouses: the same parameters must keep hashing to
    # these strings whatever class carries them (computed with the pydantic model of before).
    from autoindex_pipeline.config import load_config
    from autoindex_pipeline.domain.params import StrategyParams

    strategies = load_config().strategies
    assert {name: s.version for name, s in strategies.items()} == {
        "default": "46612ae9c652",
        "momentum_monthly": "ced05a659d63",
    }
    assert StrategyParams().version == "46612ae9c652"
    # Built directly, an int weight or an ISO date hashes as the loader's float and date do.
    direct = StrategyParams(momentum_weight=1, max_asset_weight=0.1, start_date="2020-01-02", rebalance_frequency="monthly")
    assert direct.version == "21a51e8c2f9a"
    assert direct.canonical_json() == (
        '{"daily_drop_threshold":-0.01,"market_cap_weight":0.3,"max_asset_weight":0.1,"max_daily_return":0.5,'
        '"max_forward_fill_days":2,"min_daily_return":-0.5,"min_history":20,"min_price_threshold":1.0,'
        '"momentum_lookback":20,"momentum_weight":1.0,"rebalance_frequency":"monthly","risk_free_rate":0.05,'
        '"risk_parity_weight":0.3,"sentiment_tilt":0.0,"sentiment_window_days":7,"start_date":"2020-01-02",'
        '"transaction_cost_bps":0.0,"vol_lookback":60}'
    )
