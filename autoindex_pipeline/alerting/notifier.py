"""Deliver alerts: to the log always, to a Slack webhook and to email by severity.

Routing (methodology section 11): every alert is logged; it also goes to Slack when its
severity is at least ``slack_min_severity`` and to email when at least
``email.email_min_severity``. A channel that is not configured is *skipped*.

A failing channel never raises. Delivery (:mod:`.delivery`) is bounded and policy-based: the
providers' shared retry policy under tenacity, for the webhook and for SMTP, within a time
budget. The outcome of every channel is returned in a :class:`DeliveryReport` (``ok`` /
``error`` + message / ``skipped``).

Secrets never come from configuration: the Slack webhook URL (the URL *is* the secret) and the
SMTP password are read from environment variables named in the settings. They are registered
with the shared log redaction filter (httpx logs every request URL) and redacted from every
message this module builds, so neither the log nor a report ever shows them.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal

import httpx

# The settings are configuration (``notifications:`` in autoindex.yaml); imported here, and so
# still importable from this module, for the notifier that reads them.
from autoindex_pipeline.alerting.delivery import Outcome, deliver, smtp_attempt, url_secrets, webhook_attempt
from autoindex_pipeline.alerting.messages import TEXT_PREFIX, email_subject, format_text, slack_payload
from autoindex_pipeline.config import EmailSettings, NotifierSettings
from autoindex_pipeline.domain.alerts import Alert, at_least
from autoindex_pipeline.providers.http import RetryPolicy, redact, register_secrets

__all__ = [
    "ChannelResult", "DeliveryReport", "EmailSettings", "Notifier", "NotifierSettings",
    "email_subject", "format_text", "slack_payload",
]

logger = logging.getLogger(__name__)
alert_logger = logging.getLogger("autoindex_pipeline.alerts")
"""The log channel: one record per alert, at INFO / WARNING / ERROR by severity."""

LOG_LEVEL = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.ERROR}

ChannelStatus = Literal["ok", "error", "skipped"]


# --------------------------------------------------------------------------------------------
# Reports


@dataclass(frozen=True)
class ChannelResult:
    status: ChannelStatus
    detail: str = ""
    attempts: int = 0

    def __str__(self) -> str:
        return self.status if not self.detail else f"{self.status}: {self.detail}"


@dataclass
class DeliveryReport:
    """What happened to one alert on each channel (``log``, ``slack``, ``email``)."""

    dedup_key: str
    severity: str
    channels: dict[str, ChannelResult] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every channel that was meant to deliver did."""
        return all(r.status != "error" for r in self.channels.values())

    @property
    def delivered_to(self) -> list[str]:
        return [name for name, r in self.channels.items() if r.status == "ok"]

    @property
    def errors(self) -> dict[str, str]:
        return {name: r.detail for name, r in self.channels.items() if r.status == "error"}

    def summary(self) -> dict[str, str]:
        """``channel -> "ok" | "error: ..." | "skipped: ..."`` (safe for run metadata)."""
        return {name: str(r) for name, r in self.channels.items()}


# --------------------------------------------------------------------------------------------
# Notifier


class Notifier:
    """Sends alerts to the configured channels; see the module docstring.

    ``environ`` (default ``os.environ``) is where secrets are read from; ``sleep`` and ``rng``
    drive the retry waits (tests pass a no-op sleep) and ``clock`` measures each delivery's
    time budget (tests pass a fake clock that ``sleep`` advances); ``slack_transport`` swaps
    httpx's network transport. Secrets are read at every send, so a rotated webhook is picked up without a
    restart.
    """

    def __init__(
        self,
        settings: NotifierSettings | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        slack_transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings or NotifierSettings()
        self._environ = os.environ if environ is None else environ
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._transport = slack_transport

    # -- public

    def send(self, alert: Alert, channels: Collection[str] | None = None) -> DeliveryReport:
        """Deliver one alert; never raises. ``channels`` limits the send to those channels (the
        outbox passes the ones that do not have the alert yet); the others are ``skipped``."""
        alert = alert.with_run_url(self.settings.ui_base_url)
        report = DeliveryReport(dedup_key=alert.dedup_key, severity=alert.severity)
        routes = {
            "log": lambda: self._guard("log", self._send_log, alert),
            "slack": lambda: self._route_slack(alert),
            "email": lambda: self._route_email(alert),
        }
        for name, route in routes.items():
            wanted = channels is None or name in channels
            report.channels[name] = route() if wanted else ChannelResult("skipped", "not sent this time")
        return report

    def channels_for(self, alert: Alert) -> list[str]:
        """The channels this alert is routed to: ``log`` always, Slack and email when configured
        and the severity reaches their minimum."""
        s = self.settings
        out = ["log"]
        if s.slack_webhook_url_env and at_least(alert.severity, s.slack_min_severity):
            out.append("slack")
        if s.email is not None and at_least(alert.severity, s.email.email_min_severity):
            out.append("email")
        return out

    def send_all(self, alerts: Iterable[Alert]) -> list[DeliveryReport]:
        return [self.send(alert) for alert in alerts]

    # -- routing

    def _route_slack(self, alert: Alert) -> ChannelResult:
        s = self.settings
        if not s.slack_webhook_url_env:
            return ChannelResult("skipped", "not configured")
        if not at_least(alert.severity, s.slack_min_severity):
            return ChannelResult("skipped", f"below slack_min_severity ({s.slack_min_severity})")
        return self._guard("slack", self._send_slack, alert)

    def _route_email(self, alert: Alert) -> ChannelResult:
        e = self.settings.email
        if e is None:
            return ChannelResult("skipped", "not configured")
        if not at_least(alert.severity, e.email_min_severity):
            return ChannelResult("skipped", f"below email_min_severity ({e.email_min_severity})")
        return self._guard("email", self._send_email, alert)

    def _secrets(self) -> list[str]:
        out: list[str] = []
        s = self.settings
        if s.slack_webhook_url_env and self._environ.get(s.slack_webhook_url_env):
            out += url_secrets(self._environ[s.slack_webhook_url_env].strip())
        if s.email and s.email.password_env and self._environ.get(s.email.password_env):
            out.append(self._environ[s.email.password_env])
        return out

    def _guard(self, channel: str, send: Callable[[Alert], ChannelResult], alert: Alert) -> ChannelResult:
        """Run a channel; anything it raises becomes a redacted error result."""
        problem: str | None = None
        try:
            return send(alert)
        except Exception as exc:  # a channel must never break the caller
            problem = redact(f"unexpected {type(exc).__name__}: {exc}", self._secrets())
        # Logged outside the except block so no traceback (which may quote a URL) rides along.
        logger.error("alert %s: %s channel failed: %s", alert.dedup_key, channel, problem)
        return ChannelResult("error", problem)

    # -- channels

    def _send_log(self, alert: Alert) -> ChannelResult:
        alert_logger.log(
            LOG_LEVEL[alert.severity],
            "%s %s%s%s [%s]",
            TEXT_PREFIX[alert.severity],
            alert.title,
            f" ({alert.figure})" if alert.figure else "",
            f" {alert.run_url}" if alert.run_url else "",
            alert.dedup_key,
            extra={"alert": alert.to_dict()},
        )
        return ChannelResult("ok", attempts=1)

    def _send_slack(self, alert: Alert) -> ChannelResult:
        s = self.settings
        env = s.slack_webhook_url_env
        assert env is not None
        url = (self._environ.get(env) or "").strip()
        if not url:
            return self._failed("slack", alert, f"environment variable {env} is not set", 0)
        secrets = url_secrets(url)
        register_secrets(secrets)
        policy = RetryPolicy(
            max_attempts=s.slack_max_attempts,
            base_delay=s.slack_retry_base_seconds,
            max_delay=30.0,
            jitter=min(1.0, s.slack_retry_base_seconds),
        )
        with httpx.Client(timeout=s.slack_timeout_seconds, transport=self._transport, follow_redirects=False) as client:
            outcome = deliver(f"alert {alert.dedup_key}: slack", webhook_attempt(client, url, slack_payload(alert), secrets),
                              policy, sleep=self._sleep, clock=self._clock, rng=self._rng)
        return self._result("slack", alert, outcome)

    def _send_email(self, alert: Alert) -> ChannelResult:
        e = self.settings.email
        assert e is not None
        password: str | None = None
        if e.username:
            if not e.password_env or not self._environ.get(e.password_env):
                return self._failed(
                    "email", alert, f"username is set but the password variable {e.password_env or '(password_env)'} is not", 0
                )
            password = self._environ[e.password_env]
        policy = RetryPolicy(
            max_attempts=e.max_attempts, base_delay=e.retry_base_seconds, max_delay=60.0, jitter=min(1.0, e.retry_base_seconds)
        )
        outcome = deliver(f"alert {alert.dedup_key}: email", smtp_attempt(e, password, _email(e, alert)),
                          policy, sleep=self._sleep, clock=self._clock, rng=self._rng)
        return self._result("email", alert, outcome)

    def _result(self, channel: str, alert: Alert, outcome: Outcome) -> ChannelResult:
        if outcome.ok:
            return ChannelResult("ok", outcome.detail, outcome.attempts)
        return self._failed(channel, alert, outcome.detail, outcome.attempts)

    def _failed(self, channel: str, alert: Alert, detail: str, attempts: int) -> ChannelResult:
        logger.error("alert %s: %s delivery failed: %s", alert.dedup_key, channel, detail)
        return ChannelResult("error", detail, attempts)


def _email(e: EmailSettings, alert: Alert) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = email_subject(alert)
    msg["From"] = e.from_address
    msg["To"] = ", ".join(e.to)
    msg["X-AutoIndex-Alert-Key"] = alert.dedup_key
    msg["X-AutoIndex-Severity"] = alert.severity
    msg.set_content(format_text(alert))
    return msg
