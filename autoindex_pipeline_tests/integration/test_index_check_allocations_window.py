"""The allocation checks of a daily update judge the allocations the incremental recomputation
reads, from the last rebalance before the appended sessions (issue 14: the index check read
every allocation of the history each run): a bad weight there is caught as the whole history's
check catches it, the full check (on demand) still catches one in an old rebalance, and every
outcome of the index itself is the one the old reading of all allocations gave."""

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.services import index_checks
from autoindex_pipeline.services.index_checks import evaluate_index
from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.strategy import read_current_rows
from autoindex_pipeline_tests.integration.test_index_check_incremental import NEW, OLD, updated  # noqa: F401

RESTART = pd.Timestamp("2025-06-23")  # the last weekly rebalance before NEW (2025-06-30)


def _spoil_weight(engine, day: pd.Timestamp) -> str:
    t = schema.allocations
    with engine.begin() as conn:
        symbol = conn.execute(sa.select(t.c.symbol).where(t.c.date == day.date()).order_by(t.c.symbol).limit(1)).scalar_one()
        conn.execute(t.update().where(t.c.date == day.date(), t.c.symbol == symbol).values(weight=t.c.weight + 0.5))
    return symbol


def _rebalances(engine, since: pd.Timestamp | None = None) -> int:
    t = schema.allocations
    stmt = sa.select(sa.func.count(sa.distinct(t.c.date)))
    with engine.connect() as conn:
        return conn.execute(stmt if since is None else stmt.where(t.c.date >= since.date())).scalar_one()


def test_the_daily_check_reads_allocations_from_the_restart_only(updated, monkeypatch):  # noqa: F811
    engine, config, new_from = updated
    read: list[pd.DataFrame] = []

    def recording(*args, **kwargs):
        read.append(read_current_rows(*args, **kwargs))
        return read[-1]

    monkeypatch.setattr(index_checks, "read_current_rows", recording)
    daily = evaluate_index(engine, config, new_from)
    allocations = [frame for frame in read if "weight" in frame.columns]
    assert len(allocations) == 1 and allocations[0]["date"].min() == RESTART
    assert daily["weights_sum"].evaluated == _rebalances(engine, RESTART) < _rebalances(engine)
    full = evaluate_index(engine, config, new_from, full_recomputation=True)
    assert full["weights_sum"].evaluated == _rebalances(engine)
    for name in ("weights_sum", "no_negative_weights", "weight_cap", "benchmark_excluded", "index_session_gaps", "daily_moves"):
        assert daily[name].passed and full[name].passed, name
    # The index's own outcomes are those of the whole history's allocations.
    monkeypatch.setattr(index_checks, "read_current_rows",
                        lambda engine, table, versions, since=None: read_current_rows(engine, table, versions))
    whole = evaluate_index(engine, config, new_from)
    for name in ("index_recomputation", "index_session_gaps", "daily_moves"):
        assert (daily[name].passed, daily[name].evaluated, daily[name].observed) == \
            (whole[name].passed, whole[name].evaluated, whole[name].observed), name
        pd.testing.assert_frame_equal(daily[name].offending, whole[name].offending)


def test_a_bad_weight_in_the_newest_rebalance_is_caught_daily_an_old_one_by_the_full_check(updated):  # noqa: F811
    engine, config, new_from = updated
    _spoil_weight(engine, RESTART)
    daily = evaluate_index(engine, config, new_from)["weights_sum"]
    assert not daily.passed and pd.to_datetime(daily.offending["date"]).tolist() == [RESTART]
    _spoil_weight(engine, OLD - pd.Timedelta(days=OLD.dayofweek))  # the Monday rebalance of OLD's week
    assert pd.to_datetime(evaluate_index(engine, config, new_from)["weights_sum"].offending["date"]).tolist() == [RESTART]
    full = evaluate_index(engine, config, new_from, full_recomputation=True)["weights_sum"]
    assert sorted(pd.to_datetime(full.offending["date"])) == [OLD - pd.Timedelta(days=OLD.dayofweek), RESTART]
