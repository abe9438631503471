"""Checks on the stored news: duplicates (blocking), unknown symbols and a stale feed (warnings)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from autoindex_pipeline.domain.calendar import DEFAULT_CALENDAR, EXCHANGE_TIMEZONE, DateLike, is_session
from autoindex_pipeline.domain.quality.outcome import CheckOutcome, _empty_offending, _offending, _outcome
from autoindex_pipeline.domain.quality.rules import severity_of


def _article_key(frame: pd.DataFrame) -> pd.Series:
    if "article_id" in frame.columns:
        return frame["article_id"].astype(str)
    return frame["provider"].astype(str) + ":" + frame["provider_id"].astype(str)


def check_news_duplicates(articles: pd.DataFrame) -> CheckOutcome:
    """No article stored twice: the same ``article_id``, the same (provider, provider_id), or the
    same normalised URL (``domain.news.normalize_url``; empty URLs never match). Every row of a
    duplicated group is offending (value: the article key). ERROR."""
    from autoindex_pipeline.domain.news import normalize_urls

    n = len(articles)
    if n == 0:
        return _outcome("news_duplicates", _empty_offending("datetime64[ns, UTC]"), severity=severity_of("news_duplicates"), observed=0.0, threshold=0,
                        description="each article stored once", scope="table")
    key = _article_key(articles)
    rules: list[tuple[str, pd.Series]] = []
    if "article_id" in articles.columns:
        rules.append(("same article_id", articles["article_id"].astype(str)))
    if {"provider", "provider_id"} <= set(articles.columns):
        rules.append(("same provider id", articles["provider"].astype(str) + ":" + articles["provider_id"].astype(str)))
    if "url" in articles.columns:
        urls = normalize_urls(articles["url"]).astype(object)
        rules.append(("same normalised URL", urls.where(urls != "")))
    reason = pd.Series("", index=articles.index, dtype=object)
    for label, values in rules:
        dup = values.notna() & values.duplicated(keep=False)
        reason = reason.where(~(dup & (reason == "")), label)
    bad = (reason != "").to_numpy()
    published = articles["published_at"] if "published_at" in articles.columns else pd.Series(pd.NaT, index=articles.index)
    off = _offending("", published.to_numpy()[bad], key.to_numpy()[bad], reason.to_numpy()[bad], severity_of("news_duplicates"))
    return _outcome("news_duplicates", off, severity=severity_of("news_duplicates"), observed=float(bad.sum()), threshold=0,
                    description="each article stored once (id, provider id, normalised URL)", evaluated=n, scope="table")


def check_news_missing_symbols(entities: pd.DataFrame, universe: Iterable[str], articles: pd.DataFrame | None = None) -> CheckOutcome:
    """Entities naming a symbol outside the universe, and (with ``articles``) articles linked to
    no universe symbol at all. Rows are joined on ``article_id`` when both frames have it, else
    on (provider, provider_id). WARN: such articles are kept but feed no sentiment."""
    known = {str(s).strip().upper() for s in universe}
    ent_sym = entities["symbol"].astype(str).str.strip().str.upper() if len(entities) else pd.Series([], dtype=object)
    unknown = ~ent_sym.isin(known).to_numpy() if len(entities) else np.zeros(0, dtype=bool)
    ent_key = _article_key(entities) if len(entities) else pd.Series([], dtype=object)
    parts = [_offending(ent_sym.to_numpy()[unknown], pd.NaT, ent_key.to_numpy()[unknown], "symbol not in the universe", severity_of("news_missing_symbols"))]
    evaluated = len(entities)
    if articles is not None and len(articles):
        art_key = _article_key(articles)
        linked = set(ent_key[~unknown]) if len(entities) else set()
        orphan = ~art_key.isin(linked).to_numpy()
        published = articles["published_at"] if "published_at" in articles.columns else pd.Series(pd.NaT, index=articles.index)
        parts.append(_offending("", published.to_numpy()[orphan], art_key.to_numpy()[orphan], "article linked to no universe symbol", severity_of("news_missing_symbols")))
        evaluated += len(articles)
    parts = [p for p in parts if len(p)]
    off = pd.concat(parts, ignore_index=True) if parts else _empty_offending()
    return _outcome("news_missing_symbols", off, severity=severity_of("news_missing_symbols"), observed=float(len(off)), threshold=0,
                    description="every article linked to a universe symbol, every entity symbol in the universe",
                    evaluated=evaluated, scope="table")


def check_news_stale(
    articles: pd.DataFrame,
    now: DateLike,
    max_hours: float = 24.0,
    is_trading_day: Callable[[pd.Timestamp], bool] | None = None,
    *,
    calendar: str = DEFAULT_CALENDAR,
) -> CheckOutcome:
    """The newest article is at most ``max_hours`` old at ``now``, on a trading day.

    "No article for 24 h on a trading day": when ``now`` (read in the exchange time zone) is
    not a session of ``calendar`` (or ``is_trading_day(now)`` says no), the feed may be quiet
    and the check passes. No article at all is stale. One unit (the feed). WARN.
    """
    now_ts = pd.Timestamp(now)
    now_ts = now_ts.tz_localize("UTC") if now_ts.tzinfo is None else now_ts.tz_convert("UTC")
    local_day = now_ts.tz_convert(EXCHANGE_TIMEZONE).tz_localize(None).normalize()
    trading = bool(is_trading_day(local_day)) if is_trading_day is not None else is_session(local_day, calendar)
    published = pd.to_datetime(articles["published_at"], utc=True) if len(articles) else pd.Series([], dtype="datetime64[ns, UTC]")
    published = published[published <= now_ts]
    newest = published.max() if len(published) else pd.NaT
    age_h = (now_ts - newest) / pd.Timedelta(hours=1) if newest is not pd.NaT else float("inf")
    stale = trading and (pd.isna(newest) or age_h > max_hours)
    reason = "no article at all" if pd.isna(newest) else f"newest article {age_h:.1f} h old"
    off = _offending(["*"], [newest], [age_h if np.isfinite(age_h) else np.nan], [reason], severity_of("news_stale")) if stale else _empty_offending("datetime64[ns, UTC]")
    return _outcome("news_stale", off, severity=severity_of("news_stale"), observed=float(age_h), threshold=max_hours,
                    description=f"newest article at most {max_hours:g} h old on a trading day", evaluated=1, scope="table",
                    details={"trading_day": trading, "newest": newest})


