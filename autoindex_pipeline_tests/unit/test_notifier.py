"""Alert delivery against a real local webhook server (pytest-httpserver) and a real local SMTP
server (aiosmtpd on 127.0.0.1): routing by severity, retries, failures that never raise, and
the webhook URL kept out of logs and reports."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
from collections.abc import Iterator
from email.message import Message

import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from pydantic import ValidationError
from pytest_httpserver import HTTPServer

from autoindex_pipeline.alerting.delivery import DELIVERY_BUDGET_SECONDS
from autoindex_pipeline.alerting.notifier import EmailSettings, Notifier, NotifierSettings, slack_payload
from autoindex_pipeline.domain.alerts import Alert, daily_drop_alerts, run_failure_alert
from autoindex_pipeline_tests.fakes import FakeClock

HOOK_PATH = "/services/T0AUTOIDX/B0ALERTS/xoxSecretWebhookToken42"
HOOK_ENV = "AUTOINDEX_TEST_SLACK_WEBHOOK"
UI = "http://dagster.local:3000"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Inbox:
    """aiosmtpd handler keeping every message it accepts; ``replies`` are answered to the first
    DATA commands instead (a busy or refusing server)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []
        self.replies: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook name
        if self.replies:
            return self.replies.pop(0)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def _no_unmatched_requests(httpserver: HTTPServer):
    yield
    httpserver.check_assertions()


def _settings(port: int, **overrides) -> NotifierSettings:
    base = {
        "ui_base_url": UI,
        "slack_webhook_url_env": HOOK_ENV,
        "slack_min_severity": "warning",
        "slack_max_attempts": 2,
        "email": {
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "security": "none",
            "from": "autoindex@example.test",
            "to": ["ops@example.test", "oncall@example.test"],
            "email_min_severity": "critical",
            "max_attempts": 2,
            "timeout_seconds": 5,
        },
    }
    base.update(overrides)
    return NotifierSettings.model_validate(base)


def _notifier(settings: NotifierSettings, httpserver: HTTPServer, sleeps: list[float] | None = None) -> Notifier:
    record = sleeps if sleeps is not None else []
    return Notifier(settings, environ={HOOK_ENV: httpserver.url_for(HOOK_PATH)}, sleep=record.append)


def _warning() -> Alert:
    return daily_drop_alerts(pd.DataFrame({"date": ["2024-03-05"], "daily_return": [-0.013], "level": [98.7]}))[0]


def _critical() -> Alert:
    return run_failure_alert("daily_prices", "run-7f3a", "TwelveData: HTTP 503", partition="2024-03-05")[0]


def test_warning_goes_to_slack_not_to_email(httpserver: HTTPServer, smtp):
    inbox, port = smtp
    httpserver.expect_oneshot_request(HOOK_PATH, method="POST").respond_with_data("ok")
    report = _notifier(_settings(port), httpserver).send(_warning())

    assert report.ok and report.delivered_to == ["log", "slack"]
    assert report.channels["email"].status == "skipped"
    assert "email_min_severity" in report.channels["email"].detail
    assert inbox.messages == []
    [(request, _)] = httpserver.log
    body = json.loads(request.data)
    assert "Index 'default' fell 1.30%" in body["text"] and body["blocks"]
    fields = json.dumps(body["blocks"])
    assert "index_values" in fields and "2024-03-05" in fields and "-1.30%" in fields


def test_critical_goes_everywhere_with_run_link(httpserver: HTTPServer, smtp):
    inbox, port = smtp
    httpserver.expect_oneshot_request(HOOK_PATH, method="POST").respond_with_data("ok")
    report = _notifier(_settings(port), httpserver).send(_critical())

    assert report.ok and report.delivered_to == ["log", "slack", "email"]
    [(sender, rcpts, msg)] = inbox.messages
    assert sender == "autoindex@example.test" and rcpts == ["ops@example.test", "oncall@example.test"]
    subject = str(msg["Subject"]).strip()  # a long subject is folded; readers unfold it
    assert subject.startswith("[CRITICAL]") and "daily_prices" in subject
    assert msg["X-AutoIndex-Alert-Key"] == "run_failure:daily_prices:run-7f3a"
    text = msg.get_content()
    assert f"{UI}/runs/run-7f3a" in text
    assert "Partition: 2024-03-05" in text and "TwelveData: HTTP 503" in text
    slack = json.loads(httpserver.log[0][0].data)
    assert f"<{UI}/runs/run-7f3a|" in json.dumps(slack)
    assert slack["text"].startswith(":rotating_light: CRITICAL")


def test_info_is_only_logged(httpserver: HTTPServer, smtp, caplog):
    inbox, port = smtp
    caplog.set_level(logging.INFO, logger="autoindex_pipeline.alerts")
    info = Alert(kind="note", severity="info", dedup_key="note:1", title="Backup took 3 s", message="fine")
    report = _notifier(_settings(port), httpserver).send(info)
    assert report.summary() == {
        "log": "ok",
        "slack": "skipped: below slack_min_severity (warning)",
        "email": "skipped: below email_min_severity (critical)",
    }
    assert httpserver.log == [] and inbox.messages == []
    assert any("Backup took 3 s" in r.getMessage() and r.levelno == logging.INFO for r in caplog.records)


def test_failing_webhook_is_reported_not_raised_and_url_stays_secret(httpserver: HTTPServer, smtp, caplog):
    inbox, port = smtp
    caplog.set_level(logging.DEBUG)
    for _ in range(2):
        httpserver.expect_ordered_request(HOOK_PATH, method="POST").respond_with_data("upstream broke", status=500)
    sleeps: list[float] = []
    notifier = _notifier(_settings(port), httpserver, sleeps)
    report = notifier.send(_critical())  # must not raise

    slack = report.channels["slack"]
    assert slack.status == "error" and slack.attempts == 2
    assert "HTTP 500" in slack.detail and "gave up after 2 attempts" in slack.detail
    assert len(sleeps) == 1  # one wait between the two attempts
    assert not report.ok and report.errors == {"slack": slack.detail}
    # The other channels still delivered.
    assert report.channels["email"].status == "ok" and len(inbox.messages) == 1
    # The secret path of the webhook appears nowhere: logs (ours and httpx's) or report.
    assert len(httpserver.log) == 2
    # (The test server's own access log, logger "werkzeug", knows its path; it is not ours.)
    token = "xoxSecretWebhookToken42"
    ours = [r for r in caplog.records if not r.name.startswith("werkzeug")]
    assert any(r.name == "httpx" and "HTTP Request: POST" in r.getMessage() for r in ours)  # httpx did log the call
    assert all(token not in r.getMessage() for r in ours)
    assert all(token not in str(r.args) for r in ours)
    assert token not in json.dumps(report.summary())
    assert token not in str(report)


def test_webhook_recovers_on_retry_and_honours_retry_after(httpserver: HTTPServer, smtp):
    _, port = smtp
    httpserver.expect_ordered_request(HOOK_PATH, method="POST").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "7"}
    )
    httpserver.expect_ordered_request(HOOK_PATH, method="POST").respond_with_data("ok")
    sleeps: list[float] = []
    report = _notifier(_settings(port), httpserver, sleeps).send(_warning())
    assert report.channels["slack"].status == "ok" and report.channels["slack"].attempts == 2
    assert sleeps == [7.0]


def test_client_error_is_not_retried(httpserver: HTTPServer, smtp):
    _, port = smtp
    httpserver.expect_oneshot_request(HOOK_PATH, method="POST").respond_with_data("invalid_payload", status=400)
    report = _notifier(_settings(port), httpserver).send(_warning())
    slack = report.channels["slack"]
    assert slack.status == "error" and slack.attempts == 1 and "invalid_payload" in slack.detail


def test_missing_secret_and_dead_smtp_server_are_reported(httpserver: HTTPServer, caplog):
    caplog.set_level(logging.DEBUG)
    dead = _free_port()  # nothing listens there
    settings = _settings(
        dead,
        email={
            "smtp_host": "127.0.0.1",
            "smtp_port": dead,
            "security": "none",
            "from": "autoindex@example.test",
            "to": ["ops@example.test"],
            "username": "bot",
            "password_env": "AUTOINDEX_TEST_SMTP_PASSWORD",
            "max_attempts": 3,
            "timeout_seconds": 2,
        },
    )
    sleeps: list[float] = []
    notifier = Notifier(settings, environ={"AUTOINDEX_TEST_SMTP_PASSWORD": "hunter2-very-secret"}, sleep=sleeps.append)
    report = notifier.send(_critical())
    assert report.channels["slack"].status == "error"
    assert f"{HOOK_ENV} is not set" in report.channels["slack"].detail
    mail = report.channels["email"]
    assert mail.status == "error" and mail.attempts == 3 and "gave up after 3 attempts" in mail.detail
    assert len(sleeps) == 2
    assert "hunter2-very-secret" not in caplog.text and "hunter2-very-secret" not in str(report)
    # Username without its password variable: an error, not an attempt.
    report = Notifier(settings, environ={}).send(_critical())
    assert report.channels["email"].status == "error" and report.channels["email"].attempts == 0


def test_settings_are_strict_and_secret_free():
    with pytest.raises(ValidationError):
        NotifierSettings.model_validate({"slack_webhook_url": "https://hooks.slack.com/x"})
    with pytest.raises(ValidationError):
        EmailSettings.model_validate({"smtp_host": "h", "from": "a@b", "to": []})
    s = EmailSettings.model_validate({"smtp_host": "h", "from": "a@b", "to": ["c@d"], "password_env": "PW"})
    assert s.from_address == "a@b" and s.security == "starttls" and s.email_min_severity == "critical"
    # With nothing configured only the log channel runs.
    report = Notifier().send(_warning())
    assert report.summary() == {"log": "ok", "slack": "skipped: not configured", "email": "skipped: not configured"}


def test_slack_payload_escapes_markup():
    alert = Alert(kind="x", severity="warning", dedup_key="k", title="a <b> & c", message="<!channel> hi")
    payload = slack_payload(alert)
    assert "&lt;!channel&gt;" in json.dumps(payload) and "<!channel>" not in json.dumps(payload)


def test_delivery_time_is_bounded_even_when_the_server_asks_to_wait(httpserver: HTTPServer, smtp):
    _, port = smtp
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "30"}
    )
    clock = FakeClock(0.0)
    notifier = Notifier(_settings(port, slack_max_attempts=10), environ={HOOK_ENV: httpserver.url_for(HOOK_PATH)},
                        sleep=clock.sleep, clock=clock)
    slack = notifier.send(_warning()).channels["slack"]
    # 10 attempts allowed, but a second 30 s wait would end past the budget: it is not started.
    assert slack.status == "error" and slack.attempts == 2 and clock.sleeps == [30.0]
    assert clock.now <= DELIVERY_BUDGET_SECONDS and "HTTP 429" in slack.detail


def test_smtp_retries_a_busy_server_and_not_a_refusal(httpserver: HTTPServer, smtp):
    inbox, port = smtp
    inbox.replies = ["451 4.3.0 Try again later"]
    sleeps: list[float] = []
    mail = _notifier(_settings(port, slack_webhook_url_env=None), httpserver, sleeps).send(_critical()).channels["email"]
    assert mail.status == "ok" and mail.attempts == 2 and len(sleeps) == 1 and len(inbox.messages) == 1

    inbox.replies = ["554 5.7.1 Rejected"]
    sleeps.clear()
    mail = _notifier(_settings(port, slack_webhook_url_env=None), httpserver, sleeps).send(_critical()).channels["email"]
    assert mail.status == "error" and mail.attempts == 1 and sleeps == [] and "554" in mail.detail


def test_the_outbox_can_send_to_the_missing_channels_only(httpserver: HTTPServer, smtp):
    inbox, port = smtp
    notifier = _notifier(_settings(port), httpserver)
    assert notifier.channels_for(_warning()) == ["log", "slack"]
    assert notifier.channels_for(_critical()) == ["log", "slack", "email"]
    # Slack already has it: only email is tried, and Slack sees no request.
    report = notifier.send(_critical(), channels=["email"])
    assert report.delivered_to == ["email"] and len(inbox.messages) == 1
    assert report.channels["slack"].status == "skipped" and report.channels["log"].status == "skipped"
    assert httpserver.log == []


def test_the_outbox_settings_make_one_short_attempt_per_channel(smtp):
    from autoindex_pipeline.alerting.outbox import bounded_settings

    _, port = smtp
    settings = _settings(port, slack_timeout_seconds=30, slack_max_attempts=5)
    bounded = bounded_settings(settings, channel_timeout=5)
    assert (bounded.slack_max_attempts, bounded.slack_timeout_seconds) == (1, 5)
    assert (bounded.email.max_attempts, bounded.email.timeout_seconds) == (1, 5)
    assert bounded.slack_min_severity == settings.slack_min_severity and bounded.email.to == settings.email.to
    assert bounded_settings(_settings(port, slack_timeout_seconds=2), 5).slack_timeout_seconds == 2
