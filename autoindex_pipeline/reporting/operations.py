"""The weekly operations checklist as Markdown for the asset's metadata: the reviews due this
week with their steps and links, then every review's last and next due day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from autoindex_pipeline.domain.operations import ChecklistItem


def _link(label: str, target: str, ui_base_url: str | None) -> str:
    if target.startswith("/"):
        return f"[{label}]({ui_base_url.rstrip('/')}{target})" if ui_base_url else f"{label} (UI: `{target}`)"
    return f"{label} (`{target}`)"


def checklist_markdown(week_start: dt.date, items: Sequence[ChecklistItem], ui_base_url: str | None = None) -> str:
    due = [i for i in items if i.due_this_week]
    lines = [f"## Operations checklist, week of {week_start:%Y-%m-%d}", ""]
    if due:
        lines += [f"**{len(due)} review(s) due this week:**", ""]
        for i in due:
            r = i.review
            links = ", ".join(_link(label, target, ui_base_url) for label, target in r.links)
            lines += [f"- [ ] **{r.title}** ({r.cadence}, due {i.last_due:%a %Y-%m-%d}): {r.steps} Links: {links}"]
        lines.append("")
    else:
        lines += ["No review is due this week.", ""]
    lines += ["| review | cadence | due on | last due | next due |", "|---|---|---|---|---|"]
    for i in items:
        r = i.review
        lines.append(f"| {r.title} | {r.cadence} | {r.day} | {i.last_due:%Y-%m-%d} | {i.next_due:%Y-%m-%d} |")
    return "\n".join(lines) + "\n"
