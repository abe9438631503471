"""URL normalisation, title hashing and article deduplication (domain spec section 9)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.domain.news import (
    SAME_STORY_WINDOW,
    article_keys,
    deduplicate,
    normalize_url,
    normalize_urls,
    title_hash,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.reuters.com/markets/apple-beats", "https://reuters.com/markets/apple-beats"),
        ("HTTPS://WWW.Reuters.COM/markets/apple-beats", "https://reuters.com/markets/apple-beats"),
        ("http://reuters.com/markets/apple-beats/", "https://reuters.com/markets/apple-beats"),
        ("https://reuters.com/markets/apple-beats#comments", "https://reuters.com/markets/apple-beats"),
        (
            "https://reuters.com/markets/apple-beats?utm_source=twitter&utm_medium=social&fbclid=IwAR0&gclid=x",
            "https://reuters.com/markets/apple-beats",
        ),
        ("https://reuters.com/a?b=2&UTM_Campaign=x&a=1", "https://reuters.com/a?a=1&b=2"),
        ("https://reuters.com/a?id=7&mc_cid=1&_ga=2&msclkid=3", "https://reuters.com/a?id=7"),
        ("https://reuters.com:443/a", "https://reuters.com/a"),
        ("http://reuters.com:80/a", "https://reuters.com/a"),
        ("https://reuters.com:8443/a", "https://reuters.com:8443/a"),
        ("https://user:pw@www.reuters.com/a", "https://reuters.com/a"),
        ("www.reuters.com/a/", "https://reuters.com/a"),
        ("https://reuters.com/", "https://reuters.com"),
        ("https://reuters.com/A/Case-Kept", "https://reuters.com/A/Case-Kept"),
        ("https://finance.yahoo.com/news/x.html?guccounter=1", "https://finance.yahoo.com/news/x.html"),
        ("https://x.com/a?q=a+b", "https://x.com/a?q=a+b"),
        ("https://x.com/a?q=a%20b", "https://x.com/a?q=a+b"),
        ("  https://x.com/a  ", "https://x.com/a"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_url(raw, expected):
    assert normalize_url(raw) == expected


def test_normalize_url_never_raises_on_garbage():
    assert normalize_url("http://[broken") == "http://[broken"
    assert normalize_url(float("nan")) == ""


def test_normalize_urls_matches_the_scalar_function():
    raw = pd.Series(["https://WWW.x.com/a/?utm_source=1", None, "https://x.com/a", "ftp://X.com/f"])
    assert normalize_urls(raw).tolist() == [normalize_url(u) for u in raw]


def test_title_hash():
    base = title_hash("Apple beats estimates; shares rise 3%")
    assert base == hashlib.sha1(b"apple beats estimates shares rise 3").hexdigest()
    assert title_hash("APPLE  beats estimates —  shares rise 3%!") == base
    assert title_hash("  Apple beats estimates: shares rise 3% ") == base
    assert title_hash("Apple beats estimates; shares rise 4%") != base
    assert title_hash("Ａｐｐｌｅ beats estimates; shares rise 3%") == base  # NFKC full-width letters
    assert title_hash("") == "" and title_hash(None) == "" and title_hash(" ... ") == ""


# --------------------------------------------------------------------------------------------


def art(pid, when, title="Apple beats estimates", url=None, provider="p", source="reuters.com", description=""):
    return {
        "provider": provider,
        "provider_id": pid,
        "published_at": pd.Timestamp(when, tz="UTC"),
        "title": title,
        "description": description,
        "url": url if url is not None else f"https://{source}/{pid}",
        "source": source,
        "language": "en",
    }


def ent(pid, symbol, match=np.nan, sentiment=np.nan, provider="p"):
    return {"provider": provider, "provider_id": pid, "symbol": symbol, "match_score": match, "provider_sentiment": sentiment}


def frames(articles, entities):
    return pd.DataFrame(articles), pd.DataFrame(entities, columns=["provider", "provider_id", "symbol", "match_score", "provider_sentiment"])


def expected_id(provider, pid):
    return hashlib.sha1(f"id:{provider}:{pid}".encode()).hexdigest()


def test_each_kind_of_duplicate_is_merged_into_the_first_seen_article():
    articles, entities = frames(
        [
            art("a1", "2024-01-05 10:00", url="https://www.reuters.com/markets/apple"),
            art("a1", "2024-01-05 10:00", url="https://www.reuters.com/markets/apple"),  # same id twice
            art("a2", "2024-01-05 10:20", url="https://REUTERS.com/markets/apple/?utm_source=x"),  # same URL
            art("a3", "2024-01-05 14:00", title="APPLE beats estimates!", source="investing.com"),  # same title < 24h
            art("b1", "2024-01-05 11:00", title="Microsoft cuts guidance", url="https://cnbc.com/msft"),
        ],
        [
            ent("a1", "AAPL", 30.0, 0.6),
            ent("a1", "AAPL", 30.0, 0.6),
            ent("a2", "AAPL", 35.0, 0.2),
            ent("a3", "AAPL", 10.0, np.nan),
            ent("a3", "MSFT", 5.0, np.nan),
            ent("b1", "MSFT", 40.0, -0.5),
        ],
    )
    out, out_entities, report = deduplicate(articles, entities)
    assert len(out) == 2
    apple = out.loc[out["title"] == "Apple beats estimates"].iloc[0]
    assert apple["article_id"] == expected_id("p", "a1")
    assert apple["provider_id"] == "a1" and apple["is_new"]
    assert (report.merged_same_provider_id, report.merged_same_url, report.merged_same_title) == (1, 1, 1)
    assert (report.input_articles, report.output_articles, report.new_articles) == (5, 2, 2)
    assert str(out["published_at"].dtype) == "datetime64[ns, UTC]"

    # Multi-symbol union: one row per (article, symbol), max match, mean provider sentiment.
    rows = out_entities.set_index(["article_id", "symbol"])
    assert set(rows.loc[apple["article_id"]].index) == {"AAPL", "MSFT"}
    aapl = rows.loc[(apple["article_id"], "AAPL")]
    assert aapl["match_score"] == 35.0
    assert aapl["provider_sentiment"] == pytest.approx(0.4)  # the repeated id counts once
    assert aapl["provider"] == "p"
    msft_in_apple = rows.loc[(apple["article_id"], "MSFT")]
    assert msft_in_apple["match_score"] == 5.0 and np.isnan(msft_in_apple["provider_sentiment"])
    assert len(out_entities) == 3


def test_same_title_more_than_24_hours_apart_is_another_story_and_the_window_does_not_chain():
    articles, entities = frames(
        [
            art("d1", "2024-01-01 12:00", title="Stocks making the biggest moves premarket"),
            art("d2", "2024-01-02 11:00", title="Stocks making the biggest moves premarket"),  # 23 h after d1
            art("d3", "2024-01-02 13:00", title="Stocks making the biggest moves premarket"),  # 25 h after d1
            art("d4", "2024-01-03 12:30", title="Stocks making the biggest moves premarket"),  # 23.5 h after d3
        ],
        [ent(p, "SPY") for p in ("d1", "d2", "d3", "d4")],
    )
    out, _, report = deduplicate(articles, entities)
    assert sorted(out["provider_id"]) == ["d1", "d3"]
    assert report.merged_same_title == 2
    assert SAME_STORY_WINDOW == pd.Timedelta(hours=24)


def test_empty_titles_and_urls_never_match():
    articles, entities = frames(
        [art("e1", "2024-01-05 10:00", title="", url=""), art("e2", "2024-01-05 10:01", title="", url="")],
        [ent("e1", "AAPL"), ent("e2", "AAPL")],
    )
    out, _, _ = deduplicate(articles, entities)
    assert len(out) == 2


def test_transitive_merges_url_then_title():
    # A~B by URL, B~C by title: one article.
    articles, entities = frames(
        [
            art("a", "2024-01-05 10:00", title="Title one", url="https://x.com/s"),
            art("b", "2024-01-05 10:05", title="Title two", url="https://www.x.com/s/"),
            art("c", "2024-01-05 11:00", title="title TWO", url="https://y.com/other"),
        ],
        [ent("a", "AAPL"), ent("b", "AAPL"), ent("c", "AAPL")],
    )
    out, _, report = deduplicate(articles, entities)
    assert out["provider_id"].tolist() == ["a"]
    assert (report.merged_same_url, report.merged_same_title) == (1, 1)


def test_article_id_is_stable_whatever_the_input_order():
    articles, entities = frames(
        [
            art("x2", "2024-01-05 10:30", url="https://x.com/s?utm_source=a"),
            art("x1", "2024-01-05 10:00", url="https://x.com/s"),
            art("y1", "2024-01-05 09:00", title="Other story", url="https://y.com/t"),
        ],
        [ent("x2", "AAPL"), ent("x1", "AAPL"), ent("y1", "MSFT")],
    )
    first, _, _ = deduplicate(articles, entities)
    second, _, _ = deduplicate(articles.iloc[::-1], entities.iloc[::-1])
    pd.testing.assert_frame_equal(first, second)
    assert set(first["article_id"]) == {expected_id("p", "x1"), expected_id("p", "y1")}


def test_two_providers_of_the_same_story_are_one_article():
    articles, entities = frames(
        [
            art("mx-1", "2024-01-05 10:00", provider="marketaux", url="https://www.reuters.com/a/"),
            art("f-9", "2024-01-05 10:00:30", provider="files", url="https://reuters.com/a"),
        ],
        [ent("mx-1", "AAPL", 20.0, 0.5, provider="marketaux"), ent("f-9", "AAPL", 25.0, np.nan, provider="files")],
    )
    out, out_entities, _ = deduplicate(articles, entities)
    assert out["article_id"].tolist() == [expected_id("marketaux", "mx-1")]
    row = out_entities.iloc[0]
    assert (row["match_score"], row["provider_sentiment"], row["provider"]) == (25.0, 0.5, "marketaux")


def test_refresh_with_existing_keys_reuses_stored_ids():
    day1_articles, day1_entities = frames(
        [art("dup", "2024-01-05 23:30", url="https://x.com/story?utm_source=t")],
        [ent("dup", "AAPL", 10.0, np.nan)],
    )
    first, _, report1 = deduplicate(day1_articles, day1_entities)
    stored_id = first["article_id"].iloc[0]
    assert stored_id == expected_id("p", "dup")
    assert set(report1.keys["key"].str.split(":").str[0]) == {"id", "url", "title"}

    # The next refresh sees the original (published earlier, so first-seen) and the same copy again,
    # plus a syndicated copy and a brand-new story.
    later_articles, later_entities = frames(
        [
            art("orig", "2024-01-05 23:00", url="https://www.x.com/story"),
            art("dup", "2024-01-05 23:30", url="https://x.com/story?utm_source=t"),
            art("synd", "2024-01-06 08:00", title="apple BEATS estimates", url="https://z.com/q"),
            art("new", "2024-01-06 09:00", title="A new story", url="https://z.com/new"),
        ],
        [ent("orig", "AAPL", 30.0, 0.2), ent("dup", "AAPL"), ent("synd", "MSFT", 5.0), ent("new", "AAPL")],
    )
    out, out_entities, report2 = deduplicate(later_articles, later_entities, existing_keys=report1.keys)
    by_id = out.set_index("provider_id")
    assert by_id.loc["orig", "article_id"] == stored_id  # the stored id wins over the new first-seen row
    assert not by_id.loc["orig", "is_new"]
    assert by_id.loc["new", "is_new"] and by_id.loc["new", "article_id"] == expected_id("p", "new")
    assert (report2.output_articles, report2.new_articles, report2.matched_existing) == (2, 1, 1)
    # Entities of the stored article grew: AAPL from two rows, MSFT from the syndicated copy.
    grown = out_entities.loc[out_entities["article_id"] == stored_id].set_index("symbol")
    assert set(grown.index) == {"AAPL", "MSFT"}
    assert grown.loc["AAPL", "match_score"] == 30.0
    # Only keys not stored before come back.
    assert not report2.keys.merge(report1.keys, on=["key", "article_id"]).shape[0]
    assert "id:p:orig" in set(report2.keys["key"])


def test_existing_title_keys_only_match_within_24_hours():
    stored, stored_entities = frames([art("s1", "2024-01-01 12:00", title="Weekly market wrap")], [ent("s1", "SPY")])
    first, _, report = deduplicate(stored, stored_entities)
    later, later_entities = frames(
        [art("s2", "2024-01-02 11:00", title="Weekly market wrap"), art("s3", "2024-01-08 12:00", title="Weekly market wrap")],
        [ent("s2", "SPY"), ent("s3", "SPY")],
    )
    out, _, _ = deduplicate(later, later_entities, existing_keys=report.keys)
    by_id = out.set_index("provider_id")
    assert by_id.loc["s2", "article_id"] == first["article_id"].iloc[0]
    assert by_id.loc["s3", "is_new"]


def test_article_keys_rebuild_keys_from_stored_articles():
    articles, entities = frames([art("k1", "2024-01-05 10:00", url="https://www.x.com/k")], [ent("k1", "AAPL")])
    out, _, report = deduplicate(articles, entities)
    rebuilt = article_keys(out)
    assert set(rebuilt["key"]) == set(report.keys["key"])
    again, _, _ = deduplicate(
        pd.DataFrame([art("k2", "2024-01-06 10:00", title="Different", url="https://x.com/k/")]),
        pd.DataFrame([ent("k2", "AAPL")]),
        existing_keys=rebuilt,
    )
    assert again["article_id"].tolist() == out["article_id"].tolist()


def test_orphan_entities_are_dropped_and_counted():
    articles, entities = frames([art("o1", "2024-01-05 10:00")], [ent("o1", "AAPL"), ent("ghost", "MSFT")])
    _, out_entities, report = deduplicate(articles, entities)
    assert out_entities["symbol"].tolist() == ["AAPL"]
    assert report.orphan_entities == 1


def test_empty_input():
    articles, entities = frames([], [])
    articles = pd.DataFrame(columns=["provider", "provider_id", "published_at", "title", "description", "url", "source", "language"])
    out, out_entities, report = deduplicate(articles, entities)
    assert out.empty and out_entities.empty and report.output_articles == 0
    assert list(out.columns)[0] == "article_id"


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="published_at"):
        deduplicate(pd.DataFrame({"provider": ["p"], "provider_id": ["1"]}), pd.DataFrame())
    articles, entities = frames([art("a", "2024-01-05")], [ent("a", "AAPL")])
    with pytest.raises(ValueError, match="article_id"):
        deduplicate(articles, entities, existing_keys=pd.DataFrame({"key": ["x"], "published_at": ["2024-01-01"]}))
