import datetime as dt

from autoindex_pipeline.defs.shared import trading_day_partitions
from autoindex_pipeline.domain.calendar import sessions_between


def test_partitions_are_exactly_the_exchange_sessions():
    partitions = trading_day_partitions(dt.date(2024, 1, 2))
    keys = partitions.get_partition_keys()
    expected = [d.strftime("%Y-%m-%d") for d in sessions_between("2024-01-02", keys[-1])]
    assert keys == expected
    assert "2024-07-04" not in keys and "2024-12-25" not in keys
    assert "2024-11-29" in keys  # half day after Thanksgiving is a session
