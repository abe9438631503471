"""A retried provider call is in the run's own event log (what the UI and the JSON logs show),
not only on the process's stderr: the instance manages the package's Python loggers, as the
shipped dagster.yaml and the embedded instance file say."""

import json
from pathlib import Path

import dagster as dg
import pandas as pd
import yaml
from werkzeug import Response

from autoindex_pipeline.cli.runner import run_prices_job
from autoindex_pipeline.config import DATABASE_URL_ENV_VAR, load_config
from autoindex_pipeline_tests.conftest import write_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "twelvedata"
REPO = Path(__file__).resolve().parents[2]


def _python_logs(path: Path) -> dict:
    return yaml.safe_load(path.read_text())["python_logs"]


def test_shipped_instance_files_route_the_package_logs_into_runs():
    for path in (REPO / "dagster.yaml", REPO / "autoindex_pipeline" / "data" / "dagster_embedded.yaml"):
        assert _python_logs(path)["managed_python_loggers"] == ["autoindex_pipeline"], path


def test_a_retried_call_is_in_the_runs_event_log(tmp_path, monkeypatch, httpserver):
    batch = json.loads((FIXTURES / "time_series_batch_bad_symbol.json").read_text())
    calls = []

    def time_series(request):
        calls.append(request.args["symbol"])
        if len(calls) == 1:  # the first call fails; Retry-After 0 keeps the test free of sleeps
            return Response("upstream hiccup", status=500, headers={"Retry-After": "0"})
        symbols = request.args["symbol"].split(",")
        body = {s: batch.get(s, batch["NOPE"]) for s in symbols}
        return Response(json.dumps(body if len(symbols) > 1 else body[symbols[0]]), content_type="application/json")

    httpserver.expect_request("/time_series").respond_with_handler(time_series)
    # corporate_actions runs before prices in prices_job: with these unserved, each symbol's
    # /splits got pytest-httpserver's 500 five times, with real backoff sleeps (~60 s a run).
    httpserver.expect_request("/splits").respond_with_json({"meta": {}, "splits": []})
    httpserver.expect_request("/dividends").respond_with_json({"meta": {}, "dividends": []})
    monkeypatch.setenv("TWELVEDATA_API_KEY", "td-key-for-the-log-test")
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, f"sqlite:///{tmp_path / 'wh.sqlite'}")
    path = write_config(
        tmp_path,
        universe={"symbols": ["AAPL", "MSFT"]},
        providers={"prices": "twelvedata", "shares": "sample",
                   "twelvedata": {"base_url": httpserver.url_for(""), "credits_per_minute": 1000, "credits_per_day": 100000}},
    )
    config = load_config(path)
    overrides = {"python_logs": _python_logs(REPO / "dagster.yaml")}
    with dg.instance_for_test(temp_dir=str(tmp_path), overrides=overrides) as instance:
        result = run_prices_job(config, str(path), pd.Timestamp("2024-01-04"), pd.Timestamp("2024-01-05"), instance=instance)
        assert result.success
        messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
        retries = [m for m in messages if "attempt 1/" in m and "retrying in 0.0s" in m]
        assert len(retries) == 1, messages
        assert "HTTP 500" in retries[0] and "td-key-for-the-log-test" not in "\n".join(messages)
        meta = result.asset_materializations_for_node("prices")[0].metadata
        assert meta["provider_calls_retried"].value == 1
        # The run's totals, credits spent included, are one line of its event log too.
        [totals] = [m for m in messages if m.startswith("twelvedata: ") and "credit(s) spent" in m]
        assert f"{meta['provider_calls'].value} call(s)" in totals and "1 retried" in totals
        assert f"{meta['provider_credits_used'].value} credit(s) spent" in totals
