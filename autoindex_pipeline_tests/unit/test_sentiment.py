"""Sentiment scoring and the daily aggregate (domain spec section 9)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.domain.sentiment import (
    MODEL_NAME,
    article_text,
    daily_sentiment,
    local_dates,
    score_article_symbols,
    score_texts,
)


def test_model_name_carries_the_installed_vader_version():
    from importlib.metadata import version

    assert MODEL_NAME == f"vader-{version('vaderSentiment')}"


def test_hand_checked_sentences():
    positive = "Apple shares surge after strong results; analysts praise the excellent quarter and raise targets."
    negative = "Boeing shares plunge after a disappointing quarter; investors worried by weak demand and heavy losses."
    neutral = "Microsoft will hold its annual shareholder meeting on Tuesday in Redmond."
    scores = score_texts([positive, negative, neutral])
    assert scores.dtype == np.float64
    assert scores[0] > 0.5
    assert scores[1] < -0.5
    assert abs(scores[2]) <= 0.05


def test_score_texts_edge_cases():
    assert score_texts([]).shape == (0,)
    out = score_texts([None, "", "   ", "good", "good"])
    assert out[:3].tolist() == [0.0, 0.0, 0.0]
    assert out[3] == out[4] > 0
    assert np.all((out >= -1) & (out <= 1))


def test_article_text_joins_title_and_description():
    frame = pd.DataFrame({"title": ["Up", "Down ", None], "description": ["big gains", "", "x"]})
    assert article_text(frame).tolist() == ["Up. big gains", "Down", "x"]


def articles_frame():
    return pd.DataFrame(
        {
            "article_id": ["a1", "a2", "a3"],
            "published_at": pd.to_datetime(["2024-01-05 22:00", "2024-01-05 03:00", "2024-01-05 15:00"], utc=True),
            "title": ["Apple shares surge on excellent results", "Apple shares plunge on terrible losses", "Apple files a form"],
            "description": ["Investors are delighted.", "Investors are worried.", ""],
        }
    )


def test_provider_score_takes_precedence_and_vader_fills_the_rest():
    entities = pd.DataFrame(
        {
            "article_id": ["a1", "a1", "a2", "a3"],
            "symbol": ["AAPL", "MSFT", "AAPL", "AAPL"],
            "provider_sentiment": [-0.3, np.nan, np.nan, 1.0000001],
            "provider": ["marketaux", "marketaux", "sample", "files"],
        }
    )
    scores = score_article_symbols(articles_frame(), entities).set_index(["article_id", "symbol"])
    assert list(scores.columns) == ["score", "model"]
    # a1/AAPL: the provider's (negative) score wins over VADER's clearly positive reading.
    assert scores.loc[("a1", "AAPL"), "score"] == -0.3
    assert scores.loc[("a1", "AAPL"), "model"] == "marketaux-entity"
    # a1/MSFT: no provider score -> VADER on the same (positive) text.
    assert scores.loc[("a1", "MSFT"), "score"] > 0.5
    assert scores.loc[("a1", "MSFT"), "model"] == MODEL_NAME
    assert scores.loc[("a2", "AAPL"), "score"] < -0.5
    assert scores.loc[("a3", "AAPL"), "score"] == 1.0  # clipped
    assert scores.loc[("a3", "AAPL"), "model"] == "files-entity"


def test_score_article_symbols_needs_the_articles_it_scores():
    entities = pd.DataFrame({"article_id": ["zz"], "symbol": ["AAPL"], "provider_sentiment": [np.nan], "provider": ["p"]})
    with pytest.raises(ValueError, match="zz"):
        score_article_symbols(articles_frame(), entities)
    with pytest.raises(ValueError, match="provider"):
        score_article_symbols(articles_frame(), entities.drop(columns=["provider"]))


def test_score_article_symbols_empty():
    empty = pd.DataFrame({"article_id": [], "symbol": [], "provider_sentiment": [], "provider": []})
    out = score_article_symbols(articles_frame(), empty)
    assert out.empty and list(out.columns) == ["article_id", "symbol", "score", "model"]


def test_local_dates_use_the_exchange_time_zone():
    stamps = pd.Series(pd.to_datetime(["2024-01-05 22:00", "2024-01-05 03:00", "2024-07-05 03:59", "2024-07-05 04:00"], utc=True))
    assert local_dates(stamps).dt.strftime("%Y-%m-%d").tolist() == ["2024-01-05", "2024-01-04", "2024-07-04", "2024-07-05"]


def test_daily_aggregate_by_new_york_date():
    scores = pd.DataFrame(
        {
            # a1 22:00 UTC = 17:00 New York, Jan 5; a2 03:00 UTC = 22:00 New York, Jan 4; a3 Jan 5.
            "article_id": ["a1", "a2", "a3", "a1"],
            "symbol": ["AAPL", "AAPL", "AAPL", "MSFT"],
            "score": [0.6, -0.7, 0.02, -0.06],
        }
    )
    daily = daily_sentiment(scores, articles_frame())
    assert list(daily.columns) == ["symbol", "date", "article_count", "mean_score", "share_positive", "share_negative"]
    assert str(daily["date"].dtype) == "datetime64[ns]"
    rows = {(r.symbol, r.date.strftime("%Y-%m-%d")): r for r in daily.itertuples()}
    assert set(rows) == {("AAPL", "2024-01-04"), ("AAPL", "2024-01-05"), ("MSFT", "2024-01-05")}
    jan4 = rows[("AAPL", "2024-01-04")]
    assert (jan4.article_count, jan4.mean_score, jan4.share_positive, jan4.share_negative) == (1, -0.7, 0.0, 1.0)
    jan5 = rows[("AAPL", "2024-01-05")]
    assert jan5.article_count == 2
    assert jan5.mean_score == pytest.approx(0.31)
    assert (jan5.share_positive, jan5.share_negative) == (0.5, 0.0)  # 0.02 is neutral
    msft = rows[("MSFT", "2024-01-05")]
    assert (msft.share_positive, msft.share_negative) == (0.0, 1.0)  # -0.06 < -0.05


def test_daily_aggregate_in_another_time_zone():
    scores = pd.DataFrame({"article_id": ["a2"], "symbol": ["AAPL"], "score": [0.5]})
    daily = daily_sentiment(scores, articles_frame(), tz="Europe/London")
    assert daily["date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-05"]


def test_daily_aggregate_rejects_unknown_articles():
    scores = pd.DataFrame({"article_id": ["nope"], "symbol": ["AAPL"], "score": [0.5]})
    with pytest.raises(ValueError, match="nope"):
        daily_sentiment(scores, articles_frame())
