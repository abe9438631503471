"""Deliver alerts: to the log always, to a Slack webhook and to email by severity.

Routing (methodology section 11): every alert is logged; it also goes to Slack when its
severity is at least ``slack_min_severity`` and to email when at least
``email.email_min_severity``. A channel that is not configured is *skipped*.

A failing channel never raises. Slack is retried with the providers' shared policy
(:class:`~autoindex_pipeline.providers.http.RetryPolicy`: bounded attempts, exponential backoff
with jitter, ``Retry-After`` honoured, retries only on timeouts, transport errors, 429 and 5xx);
email with the same policy on connection problems and 4xx SMTP replies. The outcome of every
channel is returned in a :class:`DeliveryReport` (``ok`` / ``error`` + message / ``skipped``).

Secrets never come from configuration: the Slack webhook URL (the URL *is* the secret) and the
SMTP password are read from environment variables named in the settings. They are registered
with the shared log redaction filter (httpx logs every request URL) and redacted from every
message this module builds, so neither the log nor a report ever shows them.
"""

from __future__ import annotations

import logging
import os
import random
import smtplib
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Literal

import httpx

# The settings are configuration (``notifications:`` in autoindex.yaml); imported here, and so
# still importable from this module, for the notifier that reads them.
from autoindex_pipeline.config import EmailSettings, NotifierSettings
from autoindex_pipeline.domain.alerts import Alert, at_least
from autoindex_pipeline.providers.http import (
    RetryPolicy,
    Verdict,
    classify_status,
    parse_retry_after,
    redact,
    register_secrets,
)

logger = logging.getLogger(__name__)
alert_logger = logging.getLogger("autoindex_pipeline.alerts")
"""The log channel: one record per alert, at INFO / WARNING / ERROR by severity."""

SLACK_EMOJI = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}
TEXT_PREFIX = {"info": "[INFO]", "warning": "[WARNING]", "critical": "[CRITICAL]"}
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
# Templates


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


# --------------------------------------------------------------------------------------------
# Notifier


def _url_secrets(url: str) -> list[str]:
    """Every spelling of a webhook URL that could show up in a message: the URL as given, as
    httpx normalises it, and its path (the token part) when long enough to be a secret."""
    secrets = {url}
    try:
        parsed = httpx.URL(url)
        secrets.add(str(parsed))
        path = parsed.raw_path.decode("ascii", "replace")
        if len(path) >= 8:
            secrets.add(path)
    except Exception:  # noqa: BLE001 - an unparsable URL is still redacted as given
        pass
    return sorted(secrets, key=len, reverse=True)


_SMTP_PERMANENT = (
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPNotSupportedError,
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPHeloError,
    ssl.SSLError,
)


class Notifier:
    """Sends alerts to the configured channels; see the module docstring.

    ``environ`` (default ``os.environ``) is where secrets are read from; ``sleep`` and ``rng``
    drive the retry waits (tests pass a no-op sleep); ``slack_transport`` swaps httpx's network
    transport. Secrets are read at every send, so a rotated webhook is picked up without a
    restart.
    """

    def __init__(
        self,
        settings: NotifierSettings | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        slack_transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings or NotifierSettings()
        self._environ = os.environ if environ is None else environ
        self._sleep = sleep
        self._rng = rng
        self._transport = slack_transport

    # -- public

    def send(self, alert: Alert) -> DeliveryReport:
        """Deliver one alert; never raises."""
        alert = alert.with_run_url(self.settings.ui_base_url)
        report = DeliveryReport(dedup_key=alert.dedup_key, severity=alert.severity)
        report.channels["log"] = self._guard("log", self._send_log, alert)
        report.channels["slack"] = self._route_slack(alert)
        report.channels["email"] = self._route_email(alert)
        return report

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
            out += _url_secrets(self._environ[s.slack_webhook_url_env].strip())
        if s.email and s.email.password_env and self._environ.get(s.email.password_env):
            out.append(self._environ[s.email.password_env])
        return out

    def _guard(self, channel: str, send: Callable[[Alert], ChannelResult], alert: Alert) -> ChannelResult:
        """Run a channel; anything it raises becomes a redacted error result."""
        problem: str | None = None
        try:
            return send(alert)
        except Exception as exc:  # noqa: BLE001 - a channel must never break the caller
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
        secrets = _url_secrets(url)
        register_secrets(secrets)
        policy = RetryPolicy(
            max_attempts=s.slack_max_attempts,
            base_delay=s.slack_retry_base_seconds,
            max_delay=30.0,
            jitter=min(1.0, s.slack_retry_base_seconds),
        )
        payload = slack_payload(alert)
        reason = ""
        attempts = 0
        with httpx.Client(timeout=s.slack_timeout_seconds, transport=self._transport, follow_redirects=False) as client:
            for attempt in range(1, policy.max_attempts + 1):
                attempts = attempt
                retry_after: float | None = None
                transport_problem: str | None = None
                response: httpx.Response | None = None
                try:
                    response = client.post(url, json=payload)
                except (httpx.TransportError, httpx.DecodingError) as exc:
                    kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "transport error"
                    transport_problem = f"{kind}: {type(exc).__name__}: {exc}"
                if response is not None:
                    verdict = classify_status(response)
                    if verdict.verdict is Verdict.OK:
                        return ChannelResult("ok", attempts=attempts)
                    body = response.text.strip()[:120]
                    reason = redact(verdict.reason + (f" ({body})" if body else ""), secrets)
                    retryable = verdict.verdict is Verdict.RETRY
                    retry_after = parse_retry_after(response)
                else:
                    reason = redact(transport_problem or "transport error", secrets)
                    retryable = True
                if not retryable or attempt == policy.max_attempts:
                    break
                wait = policy.wait_for(attempt, retry_after, self._rng)
                logger.warning(
                    "alert %s: slack attempt %d/%d failed (%s); retrying in %.1fs",
                    alert.dedup_key,
                    attempt,
                    policy.max_attempts,
                    reason,
                    wait,
                )
                self._sleep(wait)
        return self._failed("slack", alert, f"{reason} (gave up after {attempts} attempt{'s' if attempts != 1 else ''})", attempts)

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
        secrets = [password] if password else []

        msg = EmailMessage()
        msg["Subject"] = email_subject(alert)
        msg["From"] = e.from_address
        msg["To"] = ", ".join(e.to)
        msg["X-AutoIndex-Alert-Key"] = alert.dedup_key
        msg["X-AutoIndex-Severity"] = alert.severity
        msg.set_content(format_text(alert))

        policy = RetryPolicy(
            max_attempts=e.max_attempts, base_delay=e.retry_base_seconds, max_delay=60.0, jitter=min(1.0, e.retry_base_seconds)
        )
        reason = ""
        attempts = 0
        for attempt in range(1, policy.max_attempts + 1):
            attempts = attempt
            problem: str | None = None
            retryable = False
            try:
                refused = self._smtp_deliver(e, password, msg)
            except _SMTP_PERMANENT as exc:
                problem = f"{type(exc).__name__}: {exc}"
            except smtplib.SMTPResponseException as exc:
                problem = f"{type(exc).__name__}: {exc.smtp_code} {exc.smtp_error!r}"
                retryable = 400 <= exc.smtp_code < 500
            except (smtplib.SMTPException, OSError) as exc:  # disconnects, refused connections, timeouts
                problem = f"{type(exc).__name__}: {exc}"
                retryable = True
            if problem is None:
                if refused:
                    return ChannelResult("ok", f"refused by the server: {', '.join(sorted(refused))}", attempts)
                return ChannelResult("ok", attempts=attempts)
            reason = redact(problem, secrets)
            if not retryable or attempt == policy.max_attempts:
                break
            wait = policy.wait_for(attempt, None, self._rng)
            logger.warning(
                "alert %s: email attempt %d/%d failed (%s); retrying in %.1fs",
                alert.dedup_key,
                attempt,
                policy.max_attempts,
                reason,
                wait,
            )
            self._sleep(wait)
        return self._failed("email", alert, f"{reason} (gave up after {attempts} attempt{'s' if attempts != 1 else ''})", attempts)

    @staticmethod
    def _smtp_deliver(e: EmailSettings, password: str | None, msg: EmailMessage) -> dict[str, Any]:
        context = ssl.create_default_context()
        if e.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(e.smtp_host, e.smtp_port, timeout=e.timeout_seconds, context=context)
        else:
            smtp = smtplib.SMTP(e.smtp_host, e.smtp_port, timeout=e.timeout_seconds)
        with smtp:
            if e.security == "starttls":
                smtp.starttls(context=context)
            if e.username:
                smtp.login(e.username, password or "")
            return smtp.send_message(msg)

    def _failed(self, channel: str, alert: Alert, detail: str, attempts: int) -> ChannelResult:
        logger.error("alert %s: %s delivery failed: %s", alert.dedup_key, channel, detail)
        return ChannelResult("error", detail, attempts)
