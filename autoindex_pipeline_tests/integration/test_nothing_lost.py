"""Nothing lost (issue 17 #1, #2), on SQLite and PostgreSQL, in a real Dagster instance:

* a re-delivered range with one bad print fails its blocking check BEFORE anything is replaced:
  the good stored row, and the index built on it, stay as they were, and the next ordinary run
  publishes the right index;
* a session delivered partially holds the index at the last complete session; the late symbols
  complete it, and the index then equals a clean full recompute.
"""

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.cli.runner import run_index_job, run_prices_job
from autoindex_pipeline.config import load_config
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.gate import read_open_verdicts
from autoindex_pipeline.warehouse.read import read_prices, read_table
from autoindex_pipeline_tests.conftest import write_config

pytestmark = pytest.mark.heavy(40)  # each test runs several prices and index jobs

FIRST, LAST = pd.Timestamp("2024-10-01"), pd.Timestamp("2025-02-27")
NEXT = pd.Timestamp("2025-02-28")
BAD_DAY = pd.Timestamp("2025-02-14")


def _config(tmp_path, **providers):
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = write_config(tmp_path, prices={"start_date": "2024-10-01"}, providers=providers) if providers else \
        write_config(tmp_path, prices={"start_date": "2024-10-01"})
    return str(path), load_config(path)


def _index(engine):
    frame = read_table(engine, "index_values", {"strategy": "default"})
    frame["date"] = pd.to_datetime(frame["date"])
    return frame.sort_values("date").set_index("date")["level"]


def test_a_bad_redelivery_leaves_the_good_rows_and_the_index_unchanged(stack, tmp_path):
    _, _, instance = stack
    path, config = _config(tmp_path)
    assert run_prices_job(config, path, FIRST, LAST, instance=instance).success
    assert run_index_job(config, path, instance=instance).success
    engine = create_warehouse_engine(config.database_url())
    good = read_prices(engine, start=BAD_DAY - pd.Timedelta(days=7), end=BAD_DAY + pd.Timedelta(days=7))
    published = _index(engine)

    # The provider re-delivers the week with AAPL's close x100 on one day (files provider).
    delivery = good.loc[:, ["symbol", "date", "open", "high", "low", "close", "volume"]].copy()
    hit = (delivery["symbol"] == "AAPL") & (delivery["date"] == BAD_DAY)
    delivery.loc[hit, "close"] *= 100
    csv = tmp_path / "redelivery.csv"
    delivery.assign(date=delivery["date"].dt.strftime("%Y-%m-%d")).to_csv(csv, index=False)
    files_path, files_config = _config(tmp_path / "files", prices="files", shares="sample", files={"prices_path": str(csv)})
    result = run_prices_job(files_config, files_path, good["date"].min(), good["date"].max(), instance=instance)
    assert not result.success  # the blocking check failed, and says which row
    stored = read_prices(engine, start=good["date"].min(), end=good["date"].max())
    pd.testing.assert_frame_equal(
        stored.loc[:, ["symbol", "date", "close"]].reset_index(drop=True), good.loc[:, ["symbol", "date", "close"]].reset_index(drop=True)
    )
    meta = result.asset_materializations_for_node("prices")
    refused = read_table(engine, "price_rejections")
    assert refused[["symbol", "checks"]].values.tolist() == [["AAPL", "ohlc_validity, return_cap"]]
    assert not refused["replaced_nothing"].iloc[0]
    verdicts = read_open_verdicts(engine)
    assert set(verdicts["check_name"]) == {"ohlc_validity", "return_cap"} and set(verdicts["symbol"]) == {"AAPL"}
    assert meta == [] or meta[0].metadata["rows_refused"].value == 1

    # The index built on the good row is unchanged, and the next ordinary run extends it.
    assert run_index_job(config, path, instance=instance).success
    pd.testing.assert_series_equal(_index(engine), published)
    assert run_prices_job(config, path, NEXT, NEXT, instance=instance).success
    assert run_index_job(config, path, instance=instance).success
    extended = _index(engine)
    assert extended.index[-1] == NEXT
    pd.testing.assert_series_equal(extended.loc[:LAST], published)


def test_a_partial_session_holds_the_index_and_the_late_symbols_complete_it(stack, tmp_path):
    _, _, instance = stack
    path, config = _config(tmp_path)
    assert run_prices_job(config, path, FIRST, LAST, instance=instance).success
    assert run_index_job(config, path, instance=instance).success
    engine = create_warehouse_engine(config.database_url())
    late = ["AAPL", "MSFT", "XOM"]
    early = [s for s in config.symbols if s not in late]

    assert run_prices_job(config, path, NEXT, NEXT, symbols=early, instance=instance).success
    result = run_index_job(config, path, instance=instance)
    assert result.success
    assert _index(engine).index[-1] == LAST  # held: three closes of NEXT are missing
    meta = result.asset_materializations_for_node("index_assets") or []
    held = [m for m in meta if "held_from" in m.metadata]
    assert held and held[0].metadata["held_from"].value == str(NEXT.date())
    assert held[0].metadata["held_symbols"].value == ",".join(late)

    assert run_prices_job(config, path, NEXT, NEXT, symbols=late, instance=instance).success
    assert run_index_job(config, path, instance=instance).success
    extended = _index(engine)
    assert extended.index[-1] == NEXT

    # A clean full recompute (every price re-ingested) gives the same levels to 1e-9.
    assert run_prices_job(config, path, FIRST, NEXT, instance=instance).success
    assert run_index_job(config, path, instance=instance).success
    full = _index(engine)
    assert np.allclose(full.to_numpy(), extended.to_numpy(), rtol=1e-9, atol=0)


def test_no_door_around_the_gate_and_only_a_settlement_resumes(stack, tmp_path):
    """Issue 12 #2: after a prices run whose blocking checks failed, an index-only run (what
    `index_job` in the UI does) does not build on the refused print; a later targeted refresh of
    another row settles nothing; the audited override does, and the index resumes by itself."""
    _, _, instance = stack
    path = write_config(tmp_path, prices={"start_date": "2025-04-01"})
    config = load_config(path)
    path = str(path)
    clean_to, bad_day, last = pd.Timestamp("2025-08-11"), pd.Timestamp("2025-08-12"), pd.Timestamp("2025-08-19")
    assert run_prices_job(config, path, pd.Timestamp("2025-04-01"), clean_to, instance=instance).success
    assert not run_prices_job(config, path, bad_day, last, instance=instance).success  # the sample's JPM x10 print
    engine = create_warehouse_engine(config.database_url())
    assert read_prices(engine, symbols=["JPM"], start=bad_day, end=bad_day).empty  # refused, never stored
    assert run_index_job(config, path, instance=instance).success
    assert _index(engine).index[-1] == clean_to  # held, five sessions later still
    assert run_prices_job(config, path, pd.Timestamp("2025-08-13"), pd.Timestamp("2025-08-13"), symbols=["AAPL"],
                          instance=instance).success
    assert run_index_job(config, path, instance=instance).success
    assert _index(engine).index[-1] == clean_to and len(read_open_verdicts(engine)) == 2
    from autoindex_pipeline.warehouse.overrides import set_override

    set_override(engine, "JPM", bad_day.date(), "exclude", "fat-finger print, confirmed with the exchange", "analyst")
    assert read_open_verdicts(engine).empty
    assert run_index_job(config, path, instance=instance).success
    assert _index(engine).index[-1] == last
