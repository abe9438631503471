"""The operations calendar's reviews and the weekly checklist (domain/operations.py, the
operations_checklist asset)."""

import datetime as dt

import dagster as dg

from autoindex_pipeline.defs.maintenance.checklist import operations_checklist
from autoindex_pipeline.defs.resources import SettingsResource
from autoindex_pipeline.domain.operations import REVIEWS, due_in_month, next_due, week_checklist
from autoindex_pipeline_tests.conftest import write_config

BY_KEY = {r.key: r for r in REVIEWS}


def test_due_days():
    assert due_in_month(BY_KEY["monthly_findings"], 2026, 6) == dt.date(2026, 6, 1)  # a Monday
    assert due_in_month(BY_KEY["monthly_findings"], 2026, 7) == dt.date(2026, 7, 6)
    # Third Friday of June 2026 is the 19th: the universe review is due Monday the 22nd.
    assert due_in_month(BY_KEY["universe_review"], 2026, 6) == dt.date(2026, 6, 22)
    assert due_in_month(BY_KEY["universe_review"], 2026, 7) is None
    assert next_due(BY_KEY["recovery_drill"], dt.date(2026, 1, 5)) == dt.date(2026, 4, 6)


def test_the_week_lists_what_is_due_in_it_and_every_review_with_its_next_day():
    items = week_checklist(dt.date(2026, 6, 22))
    due = [i.review.key for i in items if i.due_this_week]
    assert due == ["universe_review"]
    assert len(items) == len(REVIEWS)
    first_week_of_quarter = [i.review.key for i in week_checklist(dt.date(2026, 7, 6)) if i.due_this_week]
    assert first_week_of_quarter == ["capacity_review", "monthly_findings", "performance_review", "recovery_drill"]
    quiet = week_checklist(dt.date(2026, 7, 13))
    assert not any(i.due_this_week for i in quiet)
    assert {i.review.key: i.next_due for i in quiet}["dependency_update"] == dt.date(2026, 8, 3)


def test_the_asset_renders_the_due_reviews_with_links(tmp_path):
    settings = SettingsResource(config_path=str(write_config(tmp_path)))
    result = dg.materialize([operations_checklist], resources={"settings": settings},
                            run_config={"ops": {"operations_checklist": {"config": {"week_of": "2026-07-08"}}}})
    meta = result.asset_materializations_for_node("operations_checklist")[0].metadata
    assert meta["week_of"].value == "2026-07-06" and meta["due_this_week"].value == 4
    page = meta["checklist"].value
    assert "- [ ] **Recovery drill** (quarterly, due Mon 2026-07-06)" in page
    assert "[capacity asset](http://127.0.0.1:3000/assets/capacity)" in page  # notifications.ui_base_url
    assert "| Universe review after the S&P quarterly rebalance | quarterly | Monday after the third Friday | 2026-06-22 | 2026-09-21 |" in page
