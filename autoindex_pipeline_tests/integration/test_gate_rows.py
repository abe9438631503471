"""The quality gate's rows on both backends: a refused delivery keeps the stored row and lands
with its verdict in the same transaction; a later passing delivery resolves the verdict."""

import datetime as dt

import pandas as pd
import pytest

from autoindex_pipeline.warehouse import gate as rows
from autoindex_pipeline.warehouse import load
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline.warehouse.read import read_prices

D1, D2 = dt.date(2025, 3, 3), dt.date(2025, 3, 4)


def _frame(symbol: str, closes: list[float], days=(D1, D2)) -> pd.DataFrame:
    return pd.DataFrame({
        "symbol": symbol, "date": pd.to_datetime(list(days)), "open": closes, "high": [c + 1 for c in closes],
        "low": [c - 1 for c in closes], "close": closes, "volume": 10.0, "source": "test",
    })


@pytest.fixture
def engine(warehouse_url):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    return engine


def test_a_refused_row_keeps_the_stored_one_and_records_its_verdict(engine):
    load.replace_prices(engine, _frame("AAPL", [100.0, 101.0]), ["AAPL"], D1, D2)
    bad = _frame("AAPL", [100.5, 10100.0])
    refused = bad.iloc[[1]].assign(checks="return_cap", reason="return +9900% beyond the cap", replaced_nothing=False)
    verdicts = pd.DataFrame({"symbol": ["AAPL"], "date": [pd.Timestamp(D2)], "check_name": ["return_cap"],
                             "severity": ["ERROR"], "value": [99.0], "reason": ["return +9900% beyond the cap"]})

    def also(conn):
        rows.record_refusals(conn, refused, verdicts, run_id="run-1")

    load.replace_prices(engine, bad.iloc[[0]], ["AAPL"], D1, D2, keep=[("AAPL", D2)], in_transaction=also)
    stored = read_prices(engine, symbols=["AAPL"])
    assert stored["close"].tolist() == [100.5, 101.0]  # D1 replaced, D2's good row kept
    open_ = rows.read_open_verdicts(engine)
    assert open_[["symbol", "check_name", "run_id"]].values.tolist() == [["AAPL", "return_cap", "run-1"]]
    with engine.connect() as conn:
        assert rows.latest_rejection(conn, "AAPL", D2)["close"] == 10100.0

    # A later delivery of that row that passes resolves the verdict (and only that one).
    def resolve(conn):
        rows.resolve_accepted(conn, _frame("AAPL", [101.2], days=(D2,)), run_id="run-2")

    load.replace_prices(engine, _frame("AAPL", [101.2], days=(D2,)), ["AAPL"], D2, D2, in_transaction=resolve)
    assert rows.read_open_verdicts(engine).empty


def test_a_failure_inside_the_transaction_leaves_nothing(engine):
    load.replace_prices(engine, _frame("AAPL", [100.0, 101.0]), ["AAPL"], D1, D2)

    def boom(conn):
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        load.replace_prices(engine, _frame("AAPL", [1.0, 2.0]), ["AAPL"], D1, D2, in_transaction=boom)
    assert read_prices(engine, symbols=["AAPL"])["close"].tolist() == [100.0, 101.0]


def test_absences_and_first_closes(engine):
    load.replace_prices(engine, _frame("AAPL", [100.0, 101.0]), ["AAPL"], D1, D2)
    rows.record_absence(engine, "ba", D1, None, "delisted", "acquired", "tester")
    with pytest.raises(ValueError, match="kind must be one of"):
        rows.record_absence(engine, "BA", D1, D2, "holiday", "x", "tester")
    absences = rows.read_absences(engine)
    assert absences[["symbol", "kind"]].values.tolist() == [["BA", "delisted"]] and absences["date_to"].isna().all()
    first = rows.read_first_closes(engine, ["AAPL", "BA"])
    assert first["AAPL"] == pd.Timestamp(D1) and pd.isna(first["BA"])


def test_an_override_resolves_the_verdict_and_accept_promotes_the_refused_delivery(engine):
    from autoindex_pipeline.warehouse.overrides import set_override

    load.replace_prices(engine, _frame("AAPL", [100.0, 101.0]), ["AAPL"], D1, D2)
    crash = _frame("AAPL", [60.0], days=(D2,)).assign(checks="return_cap", reason="return -40.6% beyond the cap",
                                                     replaced_nothing=False)
    verdict = pd.DataFrame({"symbol": ["AAPL"], "date": [pd.Timestamp(D2)], "check_name": ["return_cap"],
                            "severity": ["ERROR"], "value": [-0.406], "reason": ["beyond the cap"]})
    load.replace_prices(engine, crash.iloc[0:0].loc[:, ["symbol", "date", "open", "high", "low", "close", "volume", "source"]],
                        ["AAPL"], D2, D2, keep=[("AAPL", D2)],
                        in_transaction=lambda conn: rows.record_refusals(conn, crash, verdict, run_id="run-1"))
    assert read_prices(engine, symbols=["AAPL"])["close"].tolist() == [100.0, 101.0]
    effect = set_override(engine, "aapl", D2, "accept", "a genuine crash, confirmed on the exchange", "analyst")
    assert effect.verdicts_resolved == 1 and effect.refused_row_promoted
    assert read_prices(engine, symbols=["AAPL"])["close"].tolist() == [100.0, 60.0]
    assert rows.read_open_verdicts(engine).empty
    # exclude settles the verdict too, and promotes nothing
    effect = set_override(engine, "AAPL", D1, "exclude", "wrong", "analyst")
    assert effect == type(effect)(0, False)
