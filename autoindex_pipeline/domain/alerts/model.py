"""The alert itself: severities, the :class:`Alert` record and small formatting helpers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

import pandas as pd

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """0 for info, 1 for warning, 2 for critical; ValueError otherwise."""
    try:
        return _RANK[severity]
    except KeyError:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}") from None


def at_least(severity: str, minimum: str) -> bool:
    """True when ``severity`` is ``minimum`` or more severe."""
    return severity_rank(severity) >= severity_rank(minimum)


def run_url(base_url: str, run_id: str) -> str:
    """The run's page in the Dagster UI: ``{base_url}/runs/{run_id}``."""
    return f"{base_url.rstrip('/')}/runs/{run_id}"


@dataclass(frozen=True)
class Alert:
    """One alert, ready for the notifier.

    ``asset`` / ``partition`` name what the alert is about (a table or job, and a date key),
    ``figure`` the number that fired it, already formatted (``"-1.23%"``), ``run_url`` a link
    to the run in the Dagster UI. ``run_id`` lets the notifier build that link from its own
    ``ui_base_url`` when the rule did not know the UI address.
    """

    kind: str
    severity: Severity
    dedup_key: str
    title: str
    message: str
    asset: str | None = None
    partition: str | None = None
    figure: str | None = None
    run_url: str | None = None
    run_id: str | None = None

    def __post_init__(self) -> None:
        severity_rank(self.severity)
        if not self.dedup_key:
            raise ValueError("an alert needs a non-empty dedup_key")

    def with_run_url(self, base_url: str | None) -> Alert:
        """This alert with ``run_url`` filled from ``base_url`` and ``run_id`` when missing."""
        if self.run_url or not self.run_id or not base_url:
            return self
        return replace(self, run_url=run_url(base_url, self.run_id))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# --------------------------------------------------------------------------------------------
# Helpers


def day_of(value: Any) -> dt.date:
    return pd.Timestamp(value).date()


def utc(value: dt.datetime | pd.Timestamp | str) -> pd.Timestamp:
    """A timezone-aware UTC timestamp; a naive value is taken to be UTC already."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def pct(x: float) -> str:
    return f"{x:+.2%}"


