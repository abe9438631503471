"""What an alert looks like on each channel: a plain-text body (log, email), an email subject and
a Slack incoming-webhook payload. Formatting only; delivery is :mod:`.delivery`."""

from __future__ import annotations

from typing import Any

from autoindex_pipeline.domain.alerts import Alert

SLACK_EMOJI = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}
TEXT_PREFIX = {"info": "[INFO]", "warning": "[WARNING]", "critical": "[CRITICAL]"}


def _link(alert: Alert) -> str | None:
    return alert.run_url


def format_text(alert: Alert) -> str:
    """Plain-text rendering (log and email body)."""
    lines = [f"{TEXT_PREFIX[alert.severity]} {alert.title}", "", alert.message, ""]
    for label, value in (
        ("Asset", alert.asset),
        ("Partition", alert.partition),
        ("Figure", alert.figure),
        ("Run", _link(alert)),
        ("Key", alert.dedup_key),
    ):
        if value:
            lines.append(f"{label + ':':<11}{value}")
    return "\n".join(lines).rstrip() + "\n"


def email_subject(alert: Alert) -> str:
    return f"{TEXT_PREFIX[alert.severity]} AutoIndex: {alert.title}"


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(alert: Alert) -> dict[str, Any]:
    """Incoming-webhook body: ``text`` (the notification / fallback line) plus Block Kit
    blocks: header, message, a fields grid (severity, asset, partition, figure) and the run
    link."""
    emoji = SLACK_EMOJI[alert.severity]
    fields_ = [{"type": "mrkdwn", "text": f"*Severity*\n{alert.severity.upper()}"}]
    for label, value in (("Asset", alert.asset), ("Partition", alert.partition), ("Figure", alert.figure)):
        if value:
            fields_.append({"type": "mrkdwn", "text": f"*{label}*\n`{_slack_escape(value)}`"})
    context = f"key `{_slack_escape(alert.dedup_key)}`"
    link = _link(alert)
    if link:
        context = f"<{link}|View the run in Dagster> · " + context
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{emoji} {alert.title}"[:150], "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(alert.message)[:2900]}},
        {"type": "section", "fields": fields_},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
    ]
    text = f"{emoji} {alert.severity.upper()}: {_slack_escape(alert.title)}"
    if alert.figure:
        text += f" ({_slack_escape(alert.figure)})"
    if link:
        text += f" <{link}|run>"
    return {"text": text, "blocks": blocks}
