"""The prices asset on the real TwelveData client, against a local fake server (never the
internet): rows land, a bad symbol is reported not fatal, and the API key appears nowhere in
Dagster's event log."""

import json
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_shared.serdes import serialize_value
from werkzeug import Response

from autoindex_pipeline.cli.runner import run_prices_job
from autoindex_pipeline.config import DATABASE_URL_ENV_VAR, load_config
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.read import read_prices
from autoindex_pipeline_tests.conftest import write_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "twelvedata"
KEY = "td-secret-KEY-do-not-leak-42"


def _no_corporate_actions(httpserver):
    # The corporate_actions asset runs before prices in prices_job: an answer without events.
    httpserver.expect_request("/splits").respond_with_json({"meta": {}, "splits": []})
    httpserver.expect_request("/dividends").respond_with_json({"meta": {}, "dividends": []})


def test_twelvedata_prices_land_and_the_key_never_leaks(tmp_path, monkeypatch, httpserver):
    batch = json.loads((FIXTURES / "time_series_batch_bad_symbol.json").read_text())
    seen_auth = []

    def time_series(request):
        seen_auth.append(request.headers.get("Authorization"))
        symbols = request.args["symbol"].split(",")
        body = {s: batch.get(s, batch["NOPE"]) for s in symbols}
        return Response(json.dumps(body if len(symbols) > 1 else body[symbols[0]]), content_type="application/json")

    httpserver.expect_request("/time_series").respond_with_handler(time_series)
    _no_corporate_actions(httpserver)
    monkeypatch.setenv("TWELVEDATA_API_KEY", KEY)
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, f"sqlite:///{tmp_path / 'wh.sqlite'}")
    path = write_config(
        tmp_path,
        universe={"symbols": ["AAPL", "MSFT"]},
        providers={"prices": "twelvedata", "shares": "sample",
                   "twelvedata": {"base_url": httpserver.url_for(""), "credits_per_minute": 1000, "credits_per_day": 100000}},
    )
    config = load_config(path)
    (tmp_path / "dg").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dg")) as instance:
        result = run_prices_job(config, str(path), pd.Timestamp("2024-01-04"), pd.Timestamp("2024-01-05"), instance=instance)
        assert result.success
        meta = result.asset_materializations_for_node("prices")[0].metadata
        assert meta["symbols_written"].value == 2
        assert meta["symbols_failed"].value == 1 and "SPY" in meta["failures"].value
        assert meta["provider_success_rate"].value is not None
        serialized = "\n".join(serialize_value(entry) for entry in instance.all_logs(result.run_id))
        assert "provider_success_rate" in serialized and "SPY" in serialized  # metadata is in there
        assert KEY not in serialized
        assert KEY not in str(instance.get_run_by_id(result.run_id))
    assert seen_auth and all(a == f"apikey {KEY}" for a in seen_auth)
    stored = read_prices(create_warehouse_engine(config.database_url()))
    assert sorted(stored["symbol"].unique()) == ["AAPL", "MSFT"]
    assert stored.loc[stored["symbol"] == "AAPL", "close"].tolist() == [181.91, 181.17999]


def test_a_provider_answering_no_data_is_not_a_failed_run(tmp_path, monkeypatch, httpserver):
    # Measured (the simulated fortnight): the catch-up re-fetching a late symbol's hole failed
    # its run on every tick ("delivered no prices"), paging a run failure each time, while the
    # provider had simply answered "no data" for those sessions.
    no_data = {"code": 400, "status": "error", "message": "No data is available on the specified dates."}
    httpserver.expect_request("/time_series").respond_with_json(no_data)
    _no_corporate_actions(httpserver)
    monkeypatch.setenv("TWELVEDATA_API_KEY", KEY)
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, f"sqlite:///{tmp_path / 'wh.sqlite'}")
    path = write_config(
        tmp_path, universe={"symbols": ["AAPL", "MSFT"]},
        providers={"prices": "twelvedata", "shares": "sample",
                   "twelvedata": {"base_url": httpserver.url_for(""), "credits_per_minute": 1000, "credits_per_day": 100000}},
    )
    config = load_config(path)
    (tmp_path / "dg").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dg")) as instance:
        result = run_prices_job(config, str(path), pd.Timestamp("2024-01-04"), pd.Timestamp("2024-01-04"),
                                instance=instance, symbols=["AAPL"])
        assert result.success
        meta = result.asset_materializations_for_node("prices")[0].metadata
        assert meta["dagster/row_count"].value == 0 and meta["symbols_failed"].value == 1
    assert read_prices(create_warehouse_engine(config.database_url())).empty

    # A provider whose calls failed is still a failed run (nothing written either).
    httpserver.clear()
    httpserver.expect_request("/time_series").respond_with_data("upstream down", status=500)
    _no_corporate_actions(httpserver)
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, f"sqlite:///{tmp_path / 'wh2.sqlite'}")
    path = write_config(
        tmp_path, universe={"symbols": ["AAPL", "MSFT"]},
        providers={"prices": "twelvedata", "shares": "sample",
                   "twelvedata": {"base_url": httpserver.url_for(""), "credits_per_minute": 1000, "credits_per_day": 100000,
                                  "max_attempts": 1}},
    )
    config = load_config(path)
    with dg.instance_for_test(temp_dir=str(tmp_path / "dg")) as instance:
        result = run_prices_job(config, str(path), pd.Timestamp("2024-01-04"), pd.Timestamp("2024-01-04"),
                                instance=instance, symbols=["AAPL"])
        assert not result.success
