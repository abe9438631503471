"""News providers: the offline sample, JSON Lines files, and Marketaux against a local fake server
replaying hand-recorded bodies."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pandas as pd
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from autoindex_pipeline.domain.news import deduplicate, normalize_url, title_hash
from autoindex_pipeline.domain.sentiment import article_text, score_texts
from autoindex_pipeline.providers.news.base import ARTICLE_COLUMNS, ENTITY_COLUMNS, NewsProvider
from autoindex_pipeline.providers.news.files import NewsFilesProvider
from autoindex_pipeline.providers.news.marketaux import MarketauxProvider
from autoindex_pipeline.providers.news.sample import SampleNewsProvider
from autoindex_pipeline.providers.prices.base import ProviderError
from autoindex_pipeline.providers.prices.files import FilesFormatError
from autoindex_pipeline_tests.fakes import FakeClock, fake_server_providers, json_fixture

UNIVERSE_CSV = Path(__file__).resolve().parents[2] / "autoindex_pipeline" / "data" / "universe.csv"
UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture(scope="module")
def universe() -> pd.DataFrame:
    return pd.read_csv(UNIVERSE_CSV)


@pytest.fixture(scope="module")
def sample(universe) -> SampleNewsProvider:
    return SampleNewsProvider(universe, seed=42)


def assert_typed(result) -> None:
    assert list(result.articles.columns) == list(ARTICLE_COLUMNS)
    assert list(result.entities.columns) == list(ENTITY_COLUMNS)
    assert str(result.articles["published_at"].dtype) == "datetime64[ns, UTC]"
    assert result.entities["match_score"].dtype == np.float64
    assert result.entities["provider_sentiment"].dtype == np.float64


# ============================================================================================
# Sample


def test_sample_is_a_news_provider(sample):
    assert isinstance(sample, NewsProvider)
    assert sample.name == "sample"


def test_sample_is_deterministic_per_seed(universe, sample):
    symbols = ["AAPL", "MSFT", "XOM", "GLD", "SPY"]
    window = (utc(2024, 3, 1), utc(2024, 3, 8))
    again = SampleNewsProvider(universe, seed=42).fetch_news(symbols, *window)
    first = sample.fetch_news(symbols, *window)
    pd.testing.assert_frame_equal(first.articles, again.articles)
    pd.testing.assert_frame_equal(first.entities, again.entities)
    other = SampleNewsProvider(universe, seed=7).fetch_news(symbols, *window)
    assert set(other.articles["provider_id"]).isdisjoint(first.articles["provider_id"])
    assert_typed(first)


def _restrict(result, lo, hi, symbols=None):
    arts = result.articles.loc[(result.articles["published_at"] >= lo) & (result.articles["published_at"] < hi)]
    ents = result.entities.loc[result.entities["provider_id"].isin(arts["provider_id"])]
    if symbols is not None:
        ents = ents.loc[ents["symbol"].isin(symbols)]
        arts = arts.loc[arts["provider_id"].isin(ents["provider_id"])]
    return arts.reset_index(drop=True), ents.reset_index(drop=True)


def test_sample_does_not_depend_on_the_requested_window(sample):
    symbols = ["AAPL", "MSFT", "JPM", "XOM"]
    week = sample.fetch_news(symbols, utc(2024, 3, 4), utc(2024, 3, 11))
    day = sample.fetch_news(symbols, utc(2024, 3, 6), utc(2024, 3, 7))
    busiest = int(day.articles["published_at"].dt.hour.value_counts().idxmax())
    hour_lo, hour_hi = utc(2024, 3, 6, busiest), utc(2024, 3, 6, busiest) + dt.timedelta(hours=1)
    hour = sample.fetch_news(symbols, hour_lo, hour_hi)
    assert len(hour.articles) > 0
    for lo, hi, part in ((utc(2024, 3, 6), utc(2024, 3, 7), day), (hour_lo, hour_hi, hour)):
        arts, ents = _restrict(week, pd.Timestamp(lo), pd.Timestamp(hi))
        pd.testing.assert_frame_equal(part.articles, arts)
        pd.testing.assert_frame_equal(part.entities, ents)


def test_sample_one_symbol_equals_the_full_fetch_restricted_to_it(sample):
    symbols = ["AAPL", "MSFT", "NVDA", "AMD", "INTC", "JPM"]
    window = (utc(2024, 2, 1), utc(2024, 2, 15))
    everything = sample.fetch_news(symbols, *window)
    alone = sample.fetch_news(["aapl"], *window)
    arts, ents = _restrict(everything, pd.Timestamp(window[0]), pd.Timestamp(window[1]), ["AAPL"])
    pd.testing.assert_frame_equal(alone.articles, arts)
    pd.testing.assert_frame_equal(alone.entities, ents)
    assert set(alone.entities["symbol"]) == {"AAPL"}


def test_sample_reports_unknown_symbols(sample):
    result = sample.fetch_news(["AAPL", "NOPE"], utc(2024, 1, 2), utc(2024, 1, 3))
    assert result.failures == {"NOPE": "unknown symbol"}
    assert result.fetched_symbols == ["AAPL"]
    assert sample.fetch_news(["NOPE"], utc(2024, 1, 2), utc(2024, 1, 3)).articles.empty


def test_sample_rejects_an_empty_window(sample):
    with pytest.raises(ValueError, match="empty window"):
        sample.fetch_news(["AAPL"], utc(2024, 1, 3), utc(2024, 1, 3))


@pytest.fixture(scope="module")
def month(sample, universe):
    symbols = universe["symbol"].iloc[:60].tolist() + ["GLD", "SPY", "QQQ"]
    return symbols, sample.fetch_news(symbols, utc(2024, 4, 1), utc(2024, 5, 1))


def test_sample_injected_cases_are_all_present(month):
    symbols, result = month
    arts, ents = result.articles, result.entities

    # Repeated id: the very same row twice, entity rows included.
    repeated = arts.loc[arts.duplicated(keep=False)]
    assert len(repeated) >= 4
    pid = repeated["provider_id"].iloc[0]
    assert ents.loc[ents["provider_id"] == pid].duplicated().any()

    # URL duplicate: raw URLs differ, normalised URLs and titles equal, new id, same source.
    canonical = arts.assign(canon=arts["url"].map(normalize_url)).drop_duplicates("provider_id")
    by_url = canonical.groupby("canon").filter(lambda g: g["provider_id"].nunique() > 1)
    assert len(by_url) >= 4
    group = next(g for _, g in by_url.groupby("canon"))
    assert group["url"].nunique() == len(group)
    assert group["title"].nunique() == 1 and group["source"].nunique() == 1

    # Syndicated: same title hash within 24 h, different source and normalised URL.
    hashed = canonical.assign(th=canonical["title"].map(title_hash))
    syndicated = hashed.groupby("th").filter(lambda g: g["canon"].nunique() > 1 and g["source"].nunique() > 1)
    assert len(syndicated) >= 4
    for _, g in syndicated.groupby("th"):
        assert g["published_at"].max() - g["published_at"].min() <= pd.Timedelta(hours=24)
    assert (syndicated["title"].str.upper() == syndicated["title"]).any()  # some copies shout

    # Multi-symbol: articles with 2-3 distinct symbols, one entity row each.
    per_article = ents.drop_duplicates().groupby("provider_id")["symbol"].agg(["nunique", "size"])
    assert (per_article["nunique"] >= 2).sum() >= 10
    assert per_article["nunique"].max() == 3
    assert (per_article["nunique"] == per_article["size"]).all()

    # Provider sentiment present on some articles, absent on others; some match scores missing.
    has = ents.groupby("provider_id")["provider_sentiment"].apply(lambda s: s.notna().any())
    assert 0.4 < has.mean() < 0.7
    assert ents["match_score"].isna().any() and ents["match_score"].notna().all() is not True
    assert ents["provider_sentiment"].dropna().between(-1, 1).all()
    assert (arts["description"] == "").any()

    # Publication times across the UTC day: after 20:00 and before 04:00 (previous New York day).
    hours = arts["published_at"].dt.hour
    assert (hours >= 20).mean() > 0.15
    assert (hours < 4).any()

    # Quiet days: symbol-days without any article, more so at weekends and for funds.
    days = pd.date_range("2024-04-01", "2024-04-30", freq="D", tz="UTC")
    counts = (
        ents.drop_duplicates("provider_id")
        .merge(arts.drop_duplicates("provider_id")[["provider_id", "published_at"]], on="provider_id")
        .assign(day=lambda f: f["published_at"].dt.floor("D"))
        .groupby(["symbol", "day"])
        .size()
        .reindex(pd.MultiIndex.from_product([symbols, days], names=["symbol", "day"]), fill_value=0)
    )
    assert (counts == 0).mean() > 0.05
    assert (counts.loc["GLD"] == 0).mean() > 0.3


def test_sample_duplicates_are_exactly_what_deduplication_removes(month):
    _, result = month
    arts = result.articles
    unique = arts.drop_duplicates("provider_id")
    canon = unique["url"].map(normalize_url)
    url_copies = int((canon.groupby(canon).size() - 1).sum())
    first_per_url = unique.loc[~canon.duplicated()]
    hashes = first_per_url["title"].map(title_hash)
    title_copies = int((hashes.groupby(hashes).size() - 1).sum())
    out, out_entities, report = deduplicate(arts, result.entities)
    assert report.merged_same_provider_id == int(arts.duplicated().sum()) > 0
    assert report.merged_same_url == url_copies > 0
    # Every shared title is an injected syndicated copy: distinct stories never share a title.
    assert report.merged_same_title == title_copies > 0
    assert report.output_articles == len(out) == len(arts) - url_copies - title_copies - int(arts.duplicated().sum())
    assert out_entities.groupby(["article_id", "symbol"]).size().max() == 1


def test_sample_text_carries_the_tone(month):
    _, result = month
    arts = result.articles.drop_duplicates("provider_id")
    tone = result.entities.groupby("provider_id")["provider_sentiment"].mean()
    scored = arts.assign(vader=score_texts(article_text(arts)), tone=arts["provider_id"].map(tone)).dropna(subset=["tone"])
    positive = scored.loc[scored["tone"] > 0.3, "vader"]
    negative = scored.loc[scored["tone"] < -0.3, "vader"]
    assert positive.mean() > 0.3 and negative.mean() < -0.3


def test_sample_full_universe_for_90_days_holds_over_100k_articles(sample):
    result = sample.fetch_news(sample.symbols, utc(2024, 1, 1), utc(2024, 3, 31))
    assert len(result.articles) >= 100_000
    assert result.entities["symbol"].nunique() == len(sample.symbols)


def test_sample_mean_is_configurable(universe):
    quiet = SampleNewsProvider(universe, mean_per_day=0.2)
    busy = SampleNewsProvider(universe, mean_per_day={"equity": 5.0})
    window = (utc(2024, 1, 8), utc(2024, 1, 13))
    assert len(quiet.fetch_news(["AAPL", "MSFT"], *window).articles) < len(busy.fetch_news(["AAPL", "MSFT"], *window).articles)


# ============================================================================================
# Files


def line(**fields) -> str:
    base = {
        "uuid": "u-1",
        "published_at": "2024-01-05T14:30:00Z",
        "title": "Apple beats estimates",
        "description": "Shares rose.",
        "url": "https://www.reuters.com/a",
        "source": "reuters.com",
        "language": "en",
        "entities": [{"symbol": "AAPL", "match_score": 31.2, "sentiment_score": 0.54}],
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...})


def test_files_happy_path(tmp_path):
    path = tmp_path / "news.jsonl"
    path.write_text(
        "\n".join(
            [
                line(),
                "",
                line(
                    uuid=None,
                    provider_id=42,
                    provider="marketaux",
                    published_at="2024-01-05T22:15:00-05:00",
                    description=None,
                    source=None,
                    entities=[{"symbol": "msft"}, {"symbol": "AAPL", "match_score": None, "sentiment_score": None}],
                ),
                line(uuid="u-3", published_at="2024-01-04T12:00:00+00:00", entities=[{"symbol": "XOM"}]),
                line(uuid="u-4", entities=[], extra_field={"ignored": True}),
            ]
        )
        + "\n"
    )
    provider = NewsFilesProvider(path)
    assert isinstance(provider, NewsProvider)
    result = provider.fetch_news(["AAPL", "MSFT"], utc(2024, 1, 5), utc(2024, 1, 7))
    assert_typed(result)
    assert result.failures == {} and result.stats.succeeded == 1
    assert result.articles["provider_id"].tolist() == ["u-1", "42"]
    second = result.articles.iloc[1]
    assert second["provider"] == "marketaux"
    assert second["published_at"] == pd.Timestamp("2024-01-06 03:15", tz="UTC")
    assert second["description"] == "" and second["source"] == ""
    ents = result.entities.set_index(["provider_id", "symbol"])
    assert ents.loc[("u-1", "AAPL"), "provider_sentiment"] == 0.54
    assert ents.loc[("42", "MSFT"), ["match_score", "provider_sentiment"]].isna().all()
    assert set(result.entities["symbol"]) == {"AAPL", "MSFT"}
    # XOM only, and outside the window, is left out; so is the article without entities.
    assert provider.fetch_news(["XOM"], utc(2024, 1, 5), utc(2024, 1, 7)).articles.empty


def test_files_folder_and_gzip_and_reload(tmp_path):
    (tmp_path / "a.jsonl").write_text(line() + "\n")
    with gzip.open(tmp_path / "b.ndjson.gz", "wt") as handle:
        handle.write(line(uuid="u-2", title="Second") + "\n")
    (tmp_path / "notes.txt").write_text("ignored")
    provider = NewsFilesProvider(tmp_path)
    window = (utc(2024, 1, 5), utc(2024, 1, 6))
    assert provider.fetch_news(["AAPL"], *window).articles["provider_id"].tolist() == ["u-1", "u-2"]
    (tmp_path / "c.jsonl").write_text(line(uuid="u-3", title="Third") + "\n")
    assert len(provider.fetch_news(["AAPL"], *window).articles) == 3


MALFORMED = [
    ("{not json", None, "not valid JSON"),
    ("[1, 2]", None, "expected a JSON object"),
    (line(uuid=...), "uuid", "is missing"),
    (line(uuid=""), "uuid", "is empty"),
    (line(uuid=True), "uuid", "expected a string or an integer"),
    (line(provider_id="other"), "provider_id", "disagrees"),
    (line(published_at=...), "published_at", "is missing"),
    (line(published_at="2024-13-45T00:00:00Z"), "published_at", "not an ISO 8601"),
    (line(published_at="2024-01-05T14:30:00"), "published_at", "no UTC offset"),
    (line(published_at=1704465000), "published_at", "expected an ISO 8601 string"),
    (line(title=...), "title", "is missing"),
    (line(title="  "), "title", "is empty"),
    (line(url=7), "url", "expected a string"),
    (line(description=["x"]), "description", "expected a string or null"),
    (line(entities=...), "entities", "is missing"),
    (line(entities={"symbol": "AAPL"}), "entities", "expected a list"),
    (line(entities=["AAPL"]), "entities[0]", "expected an object"),
    (line(entities=[{"symbol": "AAPL"}, {"match_score": 3}]), "entities[1].symbol", "is missing"),
    (line(entities=[{"symbol": "AAPL", "match_score": "high"}]), "entities[0].match_score", "expected a number"),
    (line(entities=[{"symbol": "AAPL", "sentiment_score": 1.7}]), "entities[0].sentiment_score", "outside [-1, 1]"),
    (line(entities=[{"symbol": "AAPL", "sentiment_score": False}]), "entities[0].sentiment_score", "expected a number"),
]


@pytest.mark.parametrize(("bad", "field", "message"), MALFORMED)
def test_files_malformed_line_names_file_line_and_field(tmp_path, bad, field, message):
    path = tmp_path / "news.jsonl"
    path.write_text("\n".join([line(), "", bad, line(uuid="u-9")]) + "\n")
    with pytest.raises(FilesFormatError) as info:
        NewsFilesProvider(path).fetch_news(["AAPL"], utc(2024, 1, 1), utc(2024, 2, 1))
    error = info.value
    assert isinstance(error, ProviderError) and isinstance(error, ValueError)
    text = str(error)
    assert text.startswith(f"{path} line 3")
    assert error.line == 3 and error.column == field
    if field:
        assert f"field {field!r}" in text
    assert message in text


def test_files_every_problem_is_reported_and_nothing_returned(tmp_path):
    (tmp_path / "a.jsonl").write_text("\n".join([line(), line(title=...), line(url="")]) + "\n")
    (tmp_path / "b.jsonl").write_text("oops\n")
    with pytest.raises(FilesFormatError) as info:
        NewsFilesProvider(tmp_path).fetch_news(["AAPL"], utc(2024, 1, 1), utc(2024, 2, 1))
    problems = [str(p) for p in info.value.problems]
    assert len(problems) == 3
    assert problems[0].endswith("a.jsonl line 2, field 'title': is missing")
    assert "a.jsonl line 3, field 'url': is empty" in problems[1]
    assert "b.jsonl line 1: not valid JSON" in problems[2]


def test_files_missing_or_empty(tmp_path):
    with pytest.raises(ProviderError, match="not found"):
        NewsFilesProvider(tmp_path / "nope.jsonl").fetch_news(["AAPL"], utc(2024, 1, 1), utc(2024, 1, 2))
    with pytest.raises(FilesFormatError, match="no news file"):
        NewsFilesProvider(tmp_path).fetch_news(["AAPL"], utc(2024, 1, 1), utc(2024, 1, 2))
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(FilesFormatError, match="empty"):
        NewsFilesProvider(tmp_path).fetch_news(["AAPL"], utc(2024, 1, 1), utc(2024, 1, 2))


# ============================================================================================
# Marketaux

TOKEN = "mx-TOKEN-secret/0123+456789abcdef"
NOW = dt.datetime(2024, 1, 6, 15, 0, 0, tzinfo=UTC).timestamp()
DAY = (utc(2024, 1, 5), utc(2024, 1, 6))


def fixture(name: str) -> dict:
    return json_fixture("marketaux", name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def make_provider(httpserver: HTTPServer, clock: FakeClock):
    with fake_server_providers(MarketauxProvider, TOKEN, httpserver, clock) as make:
        yield make
    httpserver.check_assertions()  # no request the test did not expect


def query(server: HTTPServer, index: int) -> dict[str, str]:
    request = server.log[index][0]
    return {k: v[0] for k, v in parse_qs(request.query_string.decode()).items()}


def serve_pages(server: HTTPServer, pages: dict[int, dict]) -> None:
    def handler(request):
        page = int(request.args.get("page", "1"))
        return Response(json.dumps(pages[page]), status=200, content_type="application/json")

    server.expect_request("/v1/news/all").respond_with_handler(handler)


def client_log(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug"))


def test_marketaux_pages_until_found_is_exhausted_and_keeps_entity_scores(httpserver, make_provider, caplog):
    caplog.set_level(logging.DEBUG)
    serve_pages(httpserver, {1: fixture("news_page1.json"), 2: fixture("news_page2.json"), 3: fixture("news_page3.json")})
    provider = make_provider()
    assert isinstance(provider, NewsProvider)
    result = provider.fetch_news(["AAPL", "MSFT"], *DAY)
    assert_typed(result)
    assert len(httpserver.log) == 3
    first = query(httpserver, 0)
    assert first == {
        "api_token": TOKEN,
        "symbols": "AAPL,MSFT",
        "filter_entities": "true",
        "language": "en",
        "published_after": "2024-01-04T23:59:59",
        "published_before": "2024-01-06T00:00:00",
        "limit": "3",
        "page": "1",
    }
    assert [query(httpserver, i)["page"] for i in range(3)] == ["1", "2", "3"]
    assert result.failures == {}
    assert len(result.articles) == 7  # the uuid repeated on page 2 is kept: deduplication merges it
    assert result.articles["provider"].unique().tolist() == ["marketaux"]
    ents = result.entities.drop_duplicates().set_index(["provider_id", "symbol"])
    multi = ents.loc["4b4f7b3e-6c2a-4a43-9d6b-1f0e2a7c1a02"]
    assert multi.loc["MSFT", "provider_sentiment"] == 0.4404 and multi.loc["AAPL", "match_score"] == 18.25
    assert np.isnan(ents.loc[("4b4f7b3e-6c2a-4a43-9d6b-1f0e2a7c1a05", "AAPL"), "provider_sentiment"])
    assert (result.stats.calls, result.stats.succeeded, result.stats.credits_used) == (3, 3, 3)
    # The token had to travel in the query string; it never reaches a log line.
    assert TOKEN not in client_log(caplog)
    assert any("HTTP Request" in r.getMessage() and "***" in r.getMessage() for r in caplog.records if r.name == "httpx")

    # Deduplicated, the repeated uuid and the syndicated same-title copy fold away.
    out, _, report = deduplicate(result.articles, result.entities)
    assert (report.merged_same_provider_id, report.merged_same_title, len(out)) == (1, 1, 5)


def test_marketaux_pages_by_the_limit_the_plan_applied(httpserver, make_provider):
    # Asked for 50 a page, the free plan gives 3 (meta.limit): paging must go on regardless.
    serve_pages(httpserver, {1: fixture("news_page1.json"), 2: fixture("news_page2.json"), 3: fixture("news_page3.json")})
    result = make_provider(articles_per_request=50).fetch_news(["AAPL", "MSFT"], *DAY)
    assert query(httpserver, 0)["limit"] == "50"
    assert len(httpserver.log) == 3 and len(result.articles) == 7


def test_marketaux_without_meta_stops_at_a_short_page(httpserver, make_provider):
    pages = {p: {"data": fixture(f"news_page{p}.json")["data"]} for p in (1, 2, 3)}
    serve_pages(httpserver, pages)
    result = make_provider().fetch_news(["AAPL", "MSFT"], *DAY)
    assert len(httpserver.log) == 3 and len(result.articles) == 7


def test_marketaux_applies_the_exact_half_open_window(httpserver, make_provider):
    serve_pages(httpserver, {1: fixture("news_page1.json"), 2: fixture("news_page2.json"), 3: fixture("news_page3.json")})
    result = make_provider().fetch_news(["AAPL", "MSFT"], utc(2024, 1, 5, 10, 30), utc(2024, 1, 5, 22, 10))
    times = result.articles["published_at"]
    assert times.min() == pd.Timestamp("2024-01-05 10:30", tz="UTC")  # start inclusive
    assert times.max() < pd.Timestamp("2024-01-05 22:10", tz="UTC")  # end exclusive
    assert set(result.entities["provider_id"]) == set(result.articles["provider_id"])


def test_marketaux_batches_symbols_and_reports_progress(httpserver, make_provider):
    serve_pages(httpserver, {1: fixture("news_empty.json")})
    seen = []
    result = make_provider(symbols_per_request=2).fetch_news(["AAPL", "MSFT", "XOM"], *DAY, progress=lambda d, t: seen.append((d, t)))
    assert [query(httpserver, i)["symbols"] for i in range(2)] == ["AAPL,MSFT", "XOM"]
    assert result.articles.empty and result.failures == {}
    assert seen == [(2, 3), (3, 3)]


@pytest.mark.parametrize("status", [401, 200])
def test_marketaux_bad_token_raises_without_showing_it(httpserver, make_provider, caplog, status):
    caplog.set_level(logging.DEBUG)
    httpserver.expect_request("/v1/news/all").respond_with_json(fixture("error_401.json"), status=status)
    with pytest.raises(ProviderError) as info:
        make_provider().fetch_news(["AAPL"], *DAY)
    assert "invalid_api_token" in str(info.value)
    assert TOKEN not in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert len(httpserver.log) == 1  # not retried
    assert TOKEN not in client_log(caplog)


def test_marketaux_usage_limit_keeps_what_was_fetched(httpserver, make_provider):
    page1 = fixture("news_page1.json")

    def handler(request):
        if request.args["symbols"] == "AAPL" and request.args["page"] == "1":
            return Response(json.dumps(page1), status=200, content_type="application/json")
        return Response(json.dumps(fixture("error_402.json")), status=402, content_type="application/json")

    httpserver.expect_request("/v1/news/all").respond_with_handler(handler)
    result = make_provider(symbols_per_request=1).fetch_news(["AAPL", "MSFT", "XOM"], *DAY)
    assert len(httpserver.log) == 2  # AAPL page 1, AAPL page 2 -> 402; nothing after
    assert len(result.articles) == 3
    assert "usage limit reached" in result.failures["AAPL"] and "pages 1-1 kept" in result.failures["AAPL"]
    assert result.failures["MSFT"].startswith("not requested: Marketaux usage limit reached")
    assert set(result.failures) == {"AAPL", "MSFT", "XOM"}
    assert (result.stats.calls, result.stats.failed) == (2, 1)


def test_marketaux_client_side_daily_budget(httpserver, make_provider):
    serve_pages(httpserver, {1: fixture("news_page1.json"), 2: fixture("news_page2.json"), 3: fixture("news_page3.json")})
    result = make_provider(requests_per_day=2, symbols_per_request=1).fetch_news(["AAPL", "MSFT"], *DAY)
    assert len(httpserver.log) == 2
    assert len(result.articles) == 5  # page 2's MSFT-only article is not AAPL's
    assert "budget" in result.failures["AAPL"] and "pages 1-2 kept" in result.failures["AAPL"]
    assert result.failures["MSFT"].startswith("not requested: daily budget of 2 requests exhausted")


def test_marketaux_rate_limit_is_retried_with_backoff(httpserver, make_provider, clock):
    httpserver.expect_ordered_request("/v1/news/all").respond_with_json(
        fixture("error_429.json"), status=429, headers={"Retry-After": "7"}
    )
    httpserver.expect_ordered_request("/v1/news/all").respond_with_json(fixture("error_429.json"), status=429)
    httpserver.expect_ordered_request("/v1/news/all").respond_with_json(fixture("news_page3.json"))
    result = make_provider().fetch_news(["AAPL"], *DAY)
    assert result.failures == {}
    assert len(result.articles) == 1
    assert clock.sleeps == [7.0, 2.0]  # Retry-After honoured, then exponential backoff
    assert (result.stats.calls, result.stats.retried, result.stats.failed, result.stats.succeeded) == (3, 2, 2, 1)


def test_marketaux_rate_limit_that_never_ends_fails_the_batch_only(httpserver, make_provider):
    def handler(request):
        if request.args["symbols"] == "AAPL":
            return Response(json.dumps(fixture("error_429.json")), status=429, content_type="application/json")
        return Response(json.dumps(fixture("news_page3.json")), status=200, content_type="application/json")

    httpserver.expect_request("/v1/news/all").respond_with_handler(handler)
    result = make_provider(symbols_per_request=1).fetch_news(["AAPL", "MSFT"], *DAY)
    assert "rate_limit_reached" in result.failures["AAPL"] and "3 attempts" in result.failures["AAPL"]
    assert "MSFT" not in result.failures


def test_marketaux_malformed_parameters_fail_that_batch(httpserver, make_provider):
    def handler(request):
        if request.args["symbols"] == "AAPL":
            return Response(json.dumps(fixture("error_400.json")), status=400, content_type="application/json")
        return Response(json.dumps(fixture("news_page3.json")), status=200, content_type="application/json")

    httpserver.expect_request("/v1/news/all").respond_with_handler(handler)
    result = make_provider(symbols_per_request=1).fetch_news(["AAPL", "MSFT"], *DAY)
    assert "malformed_parameters" in result.failures["AAPL"]
    assert list(result.failures) == ["AAPL"]
    assert len(httpserver.log) == 2


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (fixture("malformed_no_data.json"), "no 'data' list"),
        (fixture("malformed_article.json"), "data[1] has no 'uuid'"),
        ({"data": [{"uuid": "x", "published_at": "yesterday", "entities": []}]}, "no parseable 'published_at'"),
        ({"data": [{"uuid": "x", "published_at": "2024-01-05T10:00:00Z", "entities": [{"symbol": "AAPL", "sentiment_score": 3}]}]}, "outside [-1, 1]"),
        ("<html>gateway</html>", "not JSON"),
    ],
)
def test_marketaux_garbage_discards_the_whole_batch(httpserver, make_provider, body, expected):
    # Page 1 is fine; page 2 is garbage: nothing of the batch is returned.
    def handler(request):
        if request.args["page"] == "1":
            return Response(json.dumps(fixture("news_page1.json")), status=200, content_type="application/json")
        text = body if isinstance(body, str) else json.dumps(body)
        return Response(text, status=200, content_type="application/json")

    httpserver.expect_request("/v1/news/all").respond_with_handler(handler)
    result = make_provider().fetch_news(["AAPL", "MSFT"], *DAY)
    assert result.articles.empty and result.entities.empty
    assert set(result.failures) == {"AAPL", "MSFT"}
    assert expected in result.failures["AAPL"] and "page 2" in result.failures["AAPL"]


def test_marketaux_token_echoed_by_the_api_is_redacted(httpserver, make_provider, caplog):
    caplog.set_level(logging.DEBUG)
    echo = {"error": {"code": "malformed_parameters", "message": f"bad request for api_token={TOKEN}"}}
    httpserver.expect_ordered_request("/v1/news/all").respond_with_data(f"upstream error {TOKEN}", status=503)
    httpserver.expect_ordered_request("/v1/news/all").respond_with_json(echo, status=400)
    result = make_provider().fetch_news(["AAPL"], *DAY)
    assert TOKEN not in result.failures["AAPL"] and "***" in result.failures["AAPL"]
    assert TOKEN not in client_log(caplog)
    assert TOKEN not in json.dumps(result.stats.as_metadata())


def test_marketaux_token_not_in_repr_and_required(make_provider):
    provider = make_provider()
    assert TOKEN not in repr(provider)
    assert TOKEN not in repr(vars(provider).get("_http"))
    with pytest.raises(ValueError, match="empty"):
        MarketauxProvider("  ")
