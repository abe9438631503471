"""The operations calendar's reviews as one visible thing: the weekly `operations_checklist`
asset lists the reviews due this week with their steps and links (domain/operations.py says
which and when)."""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
from pydantic import Field

from autoindex_pipeline.defs.resources import SettingsResource
from autoindex_pipeline.defs.shared import CODE_VERSION, OWNERS, asset_tags
from autoindex_pipeline.domain.operations import week_checklist
from autoindex_pipeline.reporting.operations import checklist_markdown

CHECKLIST_JOB = "operations_checklist_job"
NEW_YORK = ZoneInfo("America/New_York")


class ChecklistConfig(dg.Config):
    week_of: str | None = Field(default=None, description="A date (YYYY-MM-DD) in the week to list; empty = this week.")


def _week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


@dg.asset(name="operations_checklist", group_name="maintenance", kinds={"markdown"}, owners=OWNERS,
          tags=asset_tags("maintenance", tier="support"), code_version=CODE_VERSION)
def operations_checklist(context: dg.AssetExecutionContext, config: ChecklistConfig,
                         settings: SettingsResource) -> dg.MaterializeResult:
    """The reviews a person performs (the rest of the operations calendar runs on schedules):
    the ones due this week with their steps and links, and every review's last and next due day."""
    day = dt.date.fromisoformat(config.week_of) if config.week_of else dt.datetime.now(NEW_YORK).date()
    week = _week_start(day)
    items = week_checklist(week)
    due = [i for i in items if i.due_this_week]
    if due:
        context.log.info("due this week: " + "; ".join(i.review.title for i in due))
    return dg.MaterializeResult(metadata={
        "week_of": str(week),
        "due_this_week": len(due),
        "due_reviews": ", ".join(i.review.key for i in due),
        "checklist": dg.MetadataValue.md(checklist_markdown(week, items, settings.config.notifications.ui_base_url)),
    })


operations_checklist_job = dg.define_asset_job(CHECKLIST_JOB, selection=[operations_checklist],
                                               description="List this week's operations reviews (weekly).")
