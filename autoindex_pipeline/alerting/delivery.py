"""Bounded, policy-based delivery of one message: a webhook POST and an SMTP send.

Both run under tenacity with the providers' shared :class:`~autoindex_pipeline.providers.http.RetryPolicy`
(bounded attempts, exponential backoff with jitter, ``Retry-After`` honoured and capped), and
the webhook reads responses with the same :func:`~autoindex_pipeline.providers.http.classify_status`
as every provider: retried on timeouts, transport errors, 408/429 and 5xx, never on another 4xx.
SMTP is retried on connection problems and 4xx replies, never on authentication, refused
addresses or TLS errors.

Time is bounded twice: each attempt by its socket timeout, and the whole delivery by
:data:`DELIVERY_BUDGET_SECONDS`, since a caller (a sensor tick) must finish in well under a
minute; a retry whose wait would end past the budget is not started.

Every reason handed back has been through :func:`~autoindex_pipeline.providers.http.redact`
with the caller's secrets (webhook URL, SMTP password), and exceptions are turned into reasons
without their chained context, whose text can quote the URL.
"""

from __future__ import annotations

import logging
import random
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from autoindex_pipeline.config import EmailSettings
from autoindex_pipeline.providers.http import RetryPolicy, Verdict, classify_status, parse_retry_after, redact

logger = logging.getLogger(__name__)

DELIVERY_BUDGET_SECONDS = 40.0

_SMTP_PERMANENT = (
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPNotSupportedError,
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPHeloError,
    ssl.SSLError,
)


class Transient(Exception):
    """This attempt failed in a way another attempt may not (``reason`` already redacted)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Final(Exception):
    """This attempt failed in a way no retry will change (``reason`` already redacted)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Outcome:
    ok: bool
    detail: str
    attempts: int


def deliver(
    label: str,
    attempt: Callable[[], str],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None],
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    budget_seconds: float = DELIVERY_BUDGET_SECONDS,
) -> Outcome:
    """Run ``attempt`` (returns a detail on success, raises :class:`Transient` or
    :class:`Final`) under the policy; never raises those two. ``label`` names the delivery in
    the retry warnings (no secret in it). ``clock`` measures the budget; it must advance with
    ``sleep`` (tests pass a fake pair)."""
    attempts = 0
    started = clock()

    def counted() -> str:
        nonlocal attempts
        attempts += 1
        return attempt()

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return policy.wait_for(state.attempt_number, exc.retry_after if isinstance(exc, Transient) else None, rng)

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        reason = exc.reason if isinstance(exc, Transient) else "retryable error"
        logger.warning("%s attempt %d/%d failed (%s); retrying in %.1fs",
                       label, state.attempt_number, policy.max_attempts, reason, state.upcoming_sleep)

    def stop(state: RetryCallState) -> bool:
        # tenacity computes the wait before asking: a retry that would start past the budget
        # is not waited for.
        late = clock() - started + (state.upcoming_sleep or 0.0) > budget_seconds
        return state.attempt_number >= policy.max_attempts or late

    retrying = Retrying(
        stop=stop,
        wait=wait,
        retry=retry_if_exception_type(Transient),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return Outcome(True, retrying(counted), attempts)
    except (Transient, Final) as exc:
        reason = exc.reason
    return Outcome(False, f"{reason} (gave up after {attempts} attempt{'s' if attempts != 1 else ''})", attempts)


# --------------------------------------------------------------------------------------------
# Webhook


def url_secrets(url: str) -> list[str]:
    """Every spelling of a webhook URL that could show up in a message: the URL as given, as
    httpx normalises it, and its path (the token part) when long enough to be a secret."""
    secrets = {url}
    try:
        parsed = httpx.URL(url)
        secrets.add(str(parsed))
        path = parsed.raw_path.decode("ascii", "replace")
        if len(path) >= 8:
            secrets.add(path)
    except Exception:  # an unparsable URL is still redacted as given
        pass
    return sorted(secrets, key=len, reverse=True)


def webhook_attempt(client: httpx.Client, url: str, payload: dict[str, Any], secrets: Sequence[str]) -> Callable[[], str]:
    """One POST of ``payload`` as JSON, read with the shared status classification."""

    def attempt() -> str:
        problem: str | None = None
        try:
            response = client.post(url, json=payload)
        except (httpx.TransportError, httpx.DecodingError) as exc:
            kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "transport error"
            problem = redact(f"{kind}: {type(exc).__name__}: {exc}", secrets)
        if problem is not None:
            raise Transient(problem)
        verdict = classify_status(response)
        if verdict.verdict is Verdict.OK:
            return ""
        body = response.text.strip()[:120]
        reason = redact(verdict.reason + (f" ({body})" if body else ""), secrets)
        if verdict.verdict is Verdict.RETRY:
            raise Transient(reason, parse_retry_after(response))
        raise Final(reason)

    return attempt


# --------------------------------------------------------------------------------------------
# SMTP


def _smtp_send(e: EmailSettings, password: str | None, msg: EmailMessage) -> dict[str, Any]:
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


def smtp_attempt(settings: EmailSettings, password: str | None, msg: EmailMessage) -> Callable[[], str]:
    """One SMTP session sending ``msg``; the detail names recipients the server refused."""
    secrets = [password] if password else []

    def attempt() -> str:
        transient: str | None = None
        final: str | None = None
        try:
            refused = _smtp_send(settings, password, msg)
        except _SMTP_PERMANENT as exc:
            final = f"{type(exc).__name__}: {exc}"
        except smtplib.SMTPResponseException as exc:
            problem = f"{type(exc).__name__}: {exc.smtp_code} {exc.smtp_error!r}"
            transient, final = (problem, None) if 400 <= exc.smtp_code < 500 else (None, problem)
        except (smtplib.SMTPException, OSError) as exc:  # disconnects, refused connections, timeouts
            transient = f"{type(exc).__name__}: {exc}"
        # Raised out here, so the smtplib exception is not chained onto ours.
        if final is not None:
            raise Final(redact(final, secrets))
        if transient is not None:
            raise Transient(redact(transient, secrets))
        return f"refused by the server: {', '.join(sorted(refused))}" if refused else ""

    return attempt
