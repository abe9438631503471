"""Sentiment per (article, symbol) and its daily aggregate (domain spec section 9). Pure: no I/O.

Score of an (article, symbol) pair, always in [-1, 1]:

* the provider's own entity sentiment when it gave one (Marketaux ``sentiment_score``), recorded
  with ``model = "<provider>-entity"``;
* otherwise VADER (the ``vaderSentiment`` package, a maintained lexicon and rule model) on
  ``title + ". " + description``: its ``compound`` score, recorded with ``model =``
  :data:`MODEL_NAME` (``"vader-<installed version>"``), so a stored score can always be traced to
  the model that produced it and rescored when the model changes.

VADER is a general-purpose lexicon: it reads "shares plunge" or "weak outlook" well but not
finance idioms ("misses estimates" scores about 0). That is why the provider's entity score takes
precedence; VADER is the fallback that keeps every pair scored.

Daily aggregate per (symbol, date): ``date`` is the article's publication date *in the exchange's
time zone* (``America/New_York`` by default), so 22:00 UTC is still that New York day and 03:00
UTC belongs to the previous New York day. A score counts as **positive above 0.05** and
**negative below -0.05** (VADER's own convention); in between it is neutral.

Speed: VADER is pure Python, about 10-15k short articles per second on one core. Each distinct
text is scored once (syndicated copies share a text) and the analyzer is built once per process.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pandas as pd

POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05
DEFAULT_TIMEZONE = "America/New_York"
SCORE_COLUMNS: tuple[str, ...] = ("article_id", "symbol", "score", "model")
DAILY_COLUMNS: tuple[str, ...] = ("symbol", "date", "article_count", "mean_score", "share_positive", "share_negative")


def _vader_version() -> str:
    for dist in ("vaderSentiment", "vadersentiment"):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return "unknown"


MODEL_NAME = f"vader-{_vader_version()}"


@functools.lru_cache(maxsize=1)
def _analyzer():
    # Loading the lexicon takes ~0.1 s: once per process.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def score_texts(texts: Iterable[str | None]) -> np.ndarray:
    """VADER compound score of each text, float64 in [-1, 1]; a missing or blank text scores 0."""
    values = pd.Series(list(texts), dtype=object)
    if values.empty:
        return np.empty(0, dtype=np.float64)
    cleaned = values.where(values.notna(), "").astype(str).str.strip().to_numpy(dtype=object)
    uniques, inverse = np.unique(cleaned, return_inverse=True)
    analyzer = _analyzer()
    scored = np.fromiter(
        (analyzer.polarity_scores(t)["compound"] if t else 0.0 for t in uniques), dtype=np.float64, count=len(uniques)
    )
    return np.clip(scored[inverse], -1.0, 1.0)


def article_text(articles: pd.DataFrame) -> pd.Series:
    """``title + ". " + description`` (just the one that is there when the other is empty)."""
    title = articles["title"].astype(object).where(articles["title"].notna(), "").astype(str).str.strip()
    description = (
        articles["description"].astype(object).where(articles["description"].notna(), "").astype(str).str.strip()
    )
    joined = (title + ". " + description).where(description != "", title)
    return joined.where(title != "", description)


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame is missing column(s): {', '.join(missing)}")


def score_article_symbols(articles: pd.DataFrame, entities: pd.DataFrame) -> pd.DataFrame:
    """One score per (article_id, symbol) of ``entities`` (the deduplicated frames of
    :func:`autoindex_pipeline.domain.news.deduplicate`).

    ``entities`` needs ``article_id, symbol, provider_sentiment, provider``; ``articles`` needs
    ``article_id, title, description``. Returns ``article_id, symbol, score, model``. VADER runs
    only for articles with at least one pair lacking a provider score. An entity whose article is
    missing from ``articles`` raises ``ValueError`` (a caller bug, not a data problem).
    """
    _require(entities, ("article_id", "symbol", "provider_sentiment", "provider"), "entities")
    _require(articles, ("article_id", "title", "description"), "articles")
    ents = entities.loc[:, ["article_id", "symbol", "provider_sentiment", "provider"]].reset_index(drop=True)
    if ents.empty:
        return pd.DataFrame(
            {
                "article_id": pd.Series([], dtype="str"),
                "symbol": pd.Series([], dtype="str"),
                "score": pd.Series([], dtype="float64"),
                "model": pd.Series([], dtype="str"),
            }
        )
    provider_score = pd.to_numeric(ents["provider_sentiment"]).astype("float64")
    has_provider = provider_score.notna().to_numpy()
    score = np.clip(provider_score.to_numpy(copy=True), -1.0, 1.0)
    model = np.where(has_provider, ents["provider"].astype(str).to_numpy(dtype=object) + "-entity", MODEL_NAME)

    if not has_provider.all():
        needed = ents.loc[~has_provider, "article_id"].astype(str).unique()
        arts = articles.loc[:, ["article_id", "title", "description"]].drop_duplicates("article_id")
        arts = arts.assign(article_id=arts["article_id"].astype(str))
        arts = arts.loc[arts["article_id"].isin(needed)]
        unknown = set(needed) - set(arts["article_id"])
        if unknown:
            raise ValueError(
                f"{len(unknown)} entity row(s) refer to articles not in the articles frame, e.g. {sorted(unknown)[0]}"
            )
        lexicon = pd.Series(score_texts(article_text(arts)), index=arts["article_id"].to_numpy())
        score[~has_provider] = lexicon.reindex(ents.loc[~has_provider, "article_id"].astype(str)).to_numpy()

    return pd.DataFrame(
        {
            "article_id": pd.array(ents["article_id"].astype(str), dtype="str"),
            "symbol": pd.array(ents["symbol"].astype(str), dtype="str"),
            "score": score.astype("float64"),
            "model": pd.array(model.astype(str), dtype="str"),
        }
    )


def local_dates(published_at: pd.Series, tz: str = DEFAULT_TIMEZONE) -> pd.Series:
    """Calendar date of each UTC time in ``tz``, as naive midnight datetime64[ns] (the same
    convention as the price frames' ``date``)."""
    stamps = pd.to_datetime(published_at, utc=True)
    return stamps.dt.tz_convert(tz).dt.tz_localize(None).dt.normalize().astype("datetime64[ns]")


def daily_sentiment(scores: pd.DataFrame, articles: pd.DataFrame, tz: str = DEFAULT_TIMEZONE) -> pd.DataFrame:
    """Per (symbol, date in ``tz``): ``article_count`` (articles mentioning the symbol that day),
    ``mean_score``, ``share_positive`` (score > 0.05), ``share_negative`` (score < -0.05).

    ``scores`` is the output of :func:`score_article_symbols` (one row per article and symbol);
    ``articles`` needs ``article_id, published_at``. A day without articles has no row (it is
    not a neutral day). Sorted by (symbol, date).
    """
    _require(scores, ("article_id", "symbol", "score"), "scores")
    _require(articles, ("article_id", "published_at"), "articles")
    when = articles.loc[:, ["article_id", "published_at"]].drop_duplicates("article_id")
    when = when.assign(article_id=when["article_id"].astype(str), date=local_dates(when["published_at"], tz))
    frame = scores.loc[:, ["article_id", "symbol", "score"]].assign(article_id=scores["article_id"].astype(str))
    # One score per (article, symbol): a stray duplicate must not count an article twice.
    frame = frame.drop_duplicates(["article_id", "symbol"], keep="last")
    frame = frame.merge(when[["article_id", "date"]], on="article_id", how="left", validate="many_to_one")
    if frame["date"].isna().any():
        missing = frame.loc[frame["date"].isna(), "article_id"].iloc[0]
        raise ValueError(f"scores refer to an article not in the articles frame, e.g. {missing}")
    score = pd.to_numeric(frame["score"]).astype("float64")
    frame = frame.assign(
        score=score,
        positive=(score > POSITIVE_THRESHOLD).astype("float64"),
        negative=(score < NEGATIVE_THRESHOLD).astype("float64"),
    )
    grouped = frame.groupby(["symbol", "date"], sort=True)
    out = pd.DataFrame(
        {
            "article_count": grouped["article_id"].size().astype("int64"),
            "mean_score": grouped["score"].mean(),
            "share_positive": grouped["positive"].mean(),
            "share_negative": grouped["negative"].mean(),
        }
    ).reset_index()
    out["symbol"] = out["symbol"].astype("str")
    out["date"] = out["date"].astype("datetime64[ns]")
    return out.loc[:, list(DAILY_COLUMNS)]
