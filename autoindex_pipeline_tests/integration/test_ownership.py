"""insider_transactions and institutional_holdings on SQLite and PostgreSQL: the sample and
files sources, idempotent re-runs, a restated holdings date replacing only its rows, and a source
without ownership data skipping with its reason."""

import pandas as pd
import pytest

from autoindex_pipeline.config import load_config
from autoindex_pipeline.definitions import build_definitions
from autoindex_pipeline.domain.ownership import OwnershipDataError, normalize_holdings, normalize_insider
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline.warehouse.ownership import read_insider_transactions, read_institutional_holdings
from autoindex_pipeline_tests.conftest import write_config


def _run(path, instance):
    result = build_definitions(str(path)).resolve_job_def("ownership_job").execute_in_process(instance=instance)
    assert result.success
    return {m.asset_key.to_user_string(): m.metadata for m in result.asset_materializations_for_node("insider_transactions")
            + result.asset_materializations_for_node("institutional_holdings")}


def test_the_sample_source_fills_both_tables_once(stack):
    path, config, instance = stack
    upgrade(create_warehouse_engine(config.database_url()))
    first = _run(path, instance)
    engine = create_warehouse_engine(config.database_url())
    insider, holders = read_insider_transactions(engine), read_institutional_holdings(engine)
    equities = set(config.universe_frame.loc[config.universe_frame["asset_class"] == "equity", "symbol"])
    assert set(insider["symbol"]) == equities and set(holders["symbol"]) == equities  # no ETF, no commodity
    assert first["insider_transactions"]["rows_written"].value == len(insider) > 0
    assert (holders.groupby("symbol").size() == 5).all()
    again = _run(path, instance)
    assert again["insider_transactions"]["rows_written"].value == 0  # the same trades: stored once
    assert len(read_insider_transactions(engine)) == len(insider)
    assert len(read_institutional_holdings(engine)) == len(holders)


def test_files_and_a_restated_report(stack, tmp_path):
    _, base, instance = stack
    insider = tmp_path / "insider.csv"
    pd.DataFrame({"symbol": ["aapl", "AAPL", "XOM", "GLD"], "date": ["2025-05-01", "2025-05-01", "2025-06-02", "2025-06-02"],
                  "insider": ["T. Cook", "T. Cook", "D. Woods", "Nobody"], "shares": [-1000, -1000, 500, 1],
                  "position": ["CEO", "CEO", "CEO", ""], "is_direct": ["true", "true", "false", ""]}).to_csv(insider, index=False)
    holders = tmp_path / "holders.csv"
    rows = {"symbol": ["AAPL", "AAPL", "AAPL"], "date_reported": ["2025-03-31", "2025-03-31", "2025-06-30"],
            "holder": ["Vanguard Group Inc", "Blackrock Inc.", "Vanguard Group Inc"], "shares": [1e9, 9e8, 1.1e9],
            "percent_held": [0.08, 0.07, 0.085]}
    pd.DataFrame(rows).to_csv(holders, index=False)
    path = write_config(tmp_path, providers={"prices": "files", "files": {
        "prices_path": str(tmp_path), "insider_transactions_path": str(insider), "institutional_holdings_path": str(holders)}})
    config = load_config(path)
    engine = create_warehouse_engine(config.database_url())
    upgrade(engine)
    meta = _run(path, instance)
    stored = read_insider_transactions(engine)
    assert sorted(stored["symbol"]) == ["AAPL", "XOM"]  # the duplicate row once; GLD is not an equity
    assert meta["insider_transactions"]["source"].value == "files"
    assert stored.set_index("symbol").loc["XOM", "is_direct"] in (False, 0)
    # The Q1 report restated (Blackrock dropped): only its date is replaced, Q2 stays.
    pd.DataFrame({k: v[:1] for k, v in rows.items()}).to_csv(holders, index=False)
    _run(path, instance)
    held = read_institutional_holdings(engine)
    assert list(zip(held["date_reported"].astype(str), held["holder"], strict=True)) == [
        ("2025-03-31", "Vanguard Group Inc"), ("2025-06-30", "Vanguard Group Inc")]


def test_a_source_without_ownership_data_skips_with_its_reason(stack, tmp_path, monkeypatch):
    _, _, instance = stack
    monkeypatch.setenv("TWELVEDATA_API_KEY", "not-used")
    path = write_config(tmp_path, providers={"prices": "twelvedata"})
    meta = _run(path, instance)
    # The free plan (8 credits a minute) cannot pay for one call: skipped before any request.
    assert "costs 200 credits per symbol but the plan allows 8" in meta["insider_transactions"]["skipped"].value
    assert "costs 1500 credits per symbol" in meta["institutional_holdings"]["skipped"].value
    assert all(meta[k]["dagster/row_count"].value == 0 for k in meta)


def test_rows_that_cannot_be_stored_are_named():
    with pytest.raises(OwnershipDataError, match="row 1 lacks"):
        normalize_insider(pd.DataFrame({"symbol": ["A", "B"], "date": ["2025-01-02", "nope"], "insider": ["x", "y"], "shares": [1, 2]}))
    with pytest.raises(OwnershipDataError, match="missing column"):
        normalize_holdings(pd.DataFrame({"symbol": ["A"]}))
