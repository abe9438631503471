"""Typed frames the domain computes on, whoever delivered them. Pure pandas.

Articles frame (one row per article *as the provider returned it*, duplicates included):

============  ========================  ====================================================
column        dtype                     meaning
============  ========================  ====================================================
provider      str                       who delivered it ("marketaux", "sample", "files"...)
provider_id   str                       the provider's own id (Marketaux ``uuid``); non-empty
published_at  datetime64[ns, UTC]       publication time
title         str                       may be empty only if the provider sent none
description   str                       may be empty
url           str                       as delivered (normalised only for deduplication)
source        str                       publisher, usually a domain ("reuters.com")
language      str                       ISO 639-1 code, "" when unknown
============  ========================  ====================================================

Entities frame (one row per symbol an article mentions; joined to articles on
``(provider, provider_id)``):

==================  =======  ============================================================
column              dtype    meaning
==================  =======  ============================================================
provider            str
provider_id         str
symbol              str      upper case
match_score         float64  the provider's relevance of the symbol to the article, NaN if none
provider_sentiment  float64  the provider's sentiment for that symbol in [-1, 1], NaN if none
==================  =======  ============================================================
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

ARTICLE_COLUMNS: tuple[str, ...] = (
    "provider",
    "provider_id",
    "published_at",
    "title",
    "description",
    "url",
    "source",
    "language",
)
ENTITY_COLUMNS: tuple[str, ...] = ("provider", "provider_id", "symbol", "match_score", "provider_sentiment")
_ARTICLE_TEXT_COLUMNS = ("title", "description", "url", "source", "language")
# Float noise from a provider's arithmetic (1.0000000002) is clipped; anything further out is garbage.
_SENTIMENT_TOLERANCE = 1e-6


def empty_articles_frame() -> pd.DataFrame:
    return normalize_articles_frame(pd.DataFrame({c: [] for c in ARTICLE_COLUMNS}))


def empty_entities_frame() -> pd.DataFrame:
    return normalize_entities_frame(pd.DataFrame({c: [] for c in ENTITY_COLUMNS}))


def _text(series: pd.Series) -> pd.Series:
    # pandas 3 keeps missing values missing through astype(str); the frames promise "" instead.
    return series.astype(object).where(series.notna(), "").astype(str)


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame is missing column(s): {', '.join(missing)}")


def _require_ids(out: pd.DataFrame, what: str) -> None:
    for col in ("provider", "provider_id"):
        empty = out[col].str.strip() == ""
        if empty.any():
            raise ValueError(f"{what} frame has {int(empty.sum())} row(s) with an empty {col!r}")


def normalize_articles_frame(frame: pd.DataFrame, keep: Sequence[str] = ()) -> pd.DataFrame:
    """Coerce to the canonical article columns, dtypes and order (see the module doc).

    Raises ``ValueError`` naming missing columns, empty ids or unparseable / missing
    ``published_at`` (a naive time is read as UTC). Sorted by (published_at, provider,
    provider_id); extra columns are dropped unless named in ``keep`` (carried along untouched).
    """
    _require(frame, (*ARTICLE_COLUMNS, *keep), "articles")
    out = frame.loc[:, [*ARTICLE_COLUMNS, *(c for c in keep if c not in ARTICLE_COLUMNS)]].copy()
    for col in ("provider", "provider_id", *_ARTICLE_TEXT_COLUMNS):
        out[col] = _text(out[col])
    _require_ids(out, "articles")
    try:
        published = pd.to_datetime(out["published_at"], utc=True, format="ISO8601")
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"articles frame: column 'published_at' holds a value that is not a date-time ({exc})"
        ) from exc
    if published.isna().any():
        raise ValueError(f"articles frame: column 'published_at' is missing in {int(published.isna().sum())} row(s)")
    out["published_at"] = published.astype("datetime64[ns, UTC]")
    return out.sort_values(["published_at", "provider", "provider_id"], kind="stable").reset_index(drop=True)


def normalize_entities_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Coerce to the canonical entity columns and dtypes (see the module doc).

    ``symbol`` is stripped and upper-cased; scores become float64 (NaN where absent).
    ``provider_sentiment`` must lie in [-1, 1]; ``ValueError`` otherwise, and for missing columns,
    empty ids or symbols and non-numeric scores. Sorted by (provider, provider_id, symbol).
    """
    _require(frame, ENTITY_COLUMNS, "entities")
    out = frame.loc[:, list(ENTITY_COLUMNS)].copy()
    for col in ("provider", "provider_id", "symbol"):
        out[col] = _text(out[col])
    out["symbol"] = out["symbol"].str.strip().str.upper()
    _require_ids(out, "entities")
    if (out["symbol"] == "").any():
        raise ValueError(f"entities frame has {int((out['symbol'] == '').sum())} row(s) with an empty 'symbol'")
    for col in ("match_score", "provider_sentiment"):
        try:
            out[col] = pd.to_numeric(out[col], errors="raise").astype("float64")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"entities frame: column {col!r} holds a value that is not a number ({exc})") from exc
    sentiment = out["provider_sentiment"].to_numpy()
    bad = np.abs(sentiment) > 1.0 + _SENTIMENT_TOLERANCE
    if bad.any():
        raise ValueError(
            f"entities frame: column 'provider_sentiment' outside [-1, 1] in {int(bad.sum())} row(s) "
            f"(e.g. {sentiment[bad][0]!r})"
        )
    out["provider_sentiment"] = out["provider_sentiment"].clip(-1.0, 1.0)
    return out.sort_values(["provider", "provider_id", "symbol"], kind="stable").reset_index(drop=True)
