"""The news assets in a real Dagster instance, on SQLite and on PostgreSQL (Dagster's storage and
the warehouse): backfills in one run, idempotent re-runs, deduplication across refreshes and
providers, multi-symbol articles, quiet days, malformed payloads, retention, hand-checked daily
sentiment, and Marketaux through a local fake server with the token kept out of the event log."""

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from dagster_shared.serdes import serialize_value
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
from werkzeug import Response

from autoindex_pipeline.cli.runner import run_news_job, run_news_retention_job
from autoindex_pipeline.config import load_config
from autoindex_pipeline.domain.sentiment import MODEL_NAME, article_text, score_texts
from autoindex_pipeline.services import news as news_service
from autoindex_pipeline.warehouse import news as news_store
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.read import table_counts

# The (config_path, config, instance) fixture on both backends, shared with the price tests.
from autoindex_pipeline_tests.conftest import write_config

NY = "America/New_York"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "marketaux"
TOKEN = "mx-TOKEN-secret/never-in-logs-0042"
NEWS_TABLES = ("news_articles", "news_article_keys", "news_sentiment", "sentiment_daily",
               "news_articles_archive", "news_sentiment_archive")
D1, D7 = dt.date(2025, 6, 1), dt.date(2025, 6, 7)  # Sunday .. Saturday


def _engine(config):
    return create_warehouse_engine(config.database_url())


def _news_counts(config) -> dict[str, int]:
    counts = table_counts(_engine(config))
    return {t: counts[t] for t in NEWS_TABLES}


def _meta(result, key: str) -> dict:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(key)]
    return {k: v.value for k, v in events[-1].materialization.metadata.items()}


def _failure(result) -> str:
    return "\n".join(
        e.event_specific_data.error.message for e in result.all_events if e.is_step_failure and e.event_specific_data.error
    )


def _ny(day: dt.date, hour: int, minute: int = 0) -> str:
    return pd.Timestamp(dt.datetime(day.year, day.month, day.day, hour, minute)).tz_localize(NY).isoformat()


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _files_config(tmp_path: Path, name: str, news_file: Path, **news):
    """Another config over the same warehouse ($AUTOINDEX_DATABASE_URL) reading ``news_file``."""
    (tmp_path / name).mkdir(exist_ok=True)
    path = write_config(tmp_path / name, news={"provider": "files", "files": {"path": str(news_file)}, **news})
    return str(path), load_config(path)


def _article(uid: str, published: str, title: str, entities: list[dict], url: str | None = None, description: str = "", **extra):
    return {"uuid": uid, "published_at": published, "title": title, "description": description,
            "url": url or f"https://news.example.com/{uid}", "source": "example.com", "language": "en",
            "entities": entities, **extra}


# --------------------------------------------------------------------------------------------


def test_a_week_backfill_is_one_run_and_rerunning_changes_no_row_count(stack):
    path, config, instance = stack
    result = run_news_job(config, path, D1, D7, instance=instance)
    assert result.success, _failure(result)
    assert len(instance.get_runs()) == 1
    checks = {e.event_specific_data.check_name: e.event_specific_data for e in result.all_events
              if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert checks["news_duplicates"].passed and checks["news_missing_symbols"].passed
    assert checks["news_duplicates"].metadata["evaluated"].value > 100  # the stored articles of the week
    days = {str(D1 + dt.timedelta(days=i)) for i in range(7)}
    for key in ("news_articles", "news_sentiment", "sentiment_daily"):
        assert instance.get_materialized_partitions(dg.AssetKey(key)) == days

    engine = _engine(config)
    articles = news_store.read_news_articles(engine)
    window = news_store.read_window_sentiment(engine, D1, D7)
    assert len(articles) > 100 and articles["article_id"].is_unique
    assert articles["date"].between(pd.Timestamp(D1), pd.Timestamp(D7)).all()
    # date is the New York day of the UTC publication time
    assert (articles["published_at"].dt.tz_convert(NY).dt.date == articles["date"].dt.date).all()
    assert set(window["model"]) == {"sample-entity", MODEL_NAME}  # every score names its model
    assert window["score"].between(-1, 1).all()
    # multi-symbol stories: more score rows than articles, one row per (article, symbol)
    assert len(window) > len(articles) and not window.duplicated(["article_id", "symbol"]).any()

    meta = _meta(result, "news_articles")
    assert meta["dagster/row_count"] == len(articles) == meta["articles_new"]
    dupes = meta["duplicates"]
    assert dupes["same_provider_id"] > 0 and dupes["same_url"] > 0 and dupes["same_title_within_24h"] > 0
    assert meta["articles_fetched"] == len(articles) + dupes["same_provider_id"] + dupes["same_url"] + dupes["same_title_within_24h"]
    assert meta["symbols_covered"] == len(config.symbols) and meta["provider_success_rate"] == 1.0
    sentiment_meta = _meta(result, "news_sentiment")
    assert sum(sentiment_meta["models"].values()) == len(window)
    assert "| date | symbol |" in _meta(result, "sentiment_daily")["top_movers"]

    before = _news_counts(config)
    daily_before = news_store.read_sentiment_daily(engine)
    assert run_news_job(config, path, D1, D7, instance=instance).success
    one_day = run_news_job(config, path, dt.date(2025, 6, 3), dt.date(2025, 6, 3), instance=instance)
    assert one_day.success
    assert _news_counts(config) == before
    pd.testing.assert_frame_equal(news_store.read_sentiment_daily(engine), daily_before)
    meta = _meta(one_day, "news_articles")
    assert meta["articles_new"] == 0
    assert meta["duplicates"]["already_stored_refetched"] == (articles["date"] == "2025-06-03").sum()
    # Every fetched story is accounted for: merged in the batch, new, or matched where it is stored
    # (copies published after midnight of stories stored under June 2 count as another day's).
    d = meta["duplicates"]
    distinct = meta["articles_fetched"] - d["same_provider_id"] - d["same_url"] - d["same_title_within_24h"]
    assert distinct == meta["articles_new"] + d["already_stored_refetched"] + d["stored_under_another_day"] + d["archived"]
    assert meta["dagster/row_count"] == (articles["date"] == "2025-06-03").sum()


def test_dedup_across_refreshes_and_providers(stack, tmp_path):
    """Sample first, then files holding the same stories under other ids (same URLs with
    tracking parameters, or the same title from another outlet): each story is stored once."""
    path, config, instance = stack
    day = dt.date(2025, 6, 2)
    assert run_news_job(config, path, day, day, instance=instance).success
    engine = _engine(config)
    stored = news_store.read_news_articles(engine)
    before = _news_counts(config)
    aapl_before = news_store.read_window_sentiment(engine, day, day, symbols=["AAPL"]).set_index("article_id")

    copies = []
    for i, row in enumerate(stored.head(6).itertuples(index=False)):
        published = (row.published_at + pd.Timedelta(minutes=10)).isoformat()
        if i % 2:  # same title, another outlet and URL: only the 24-hour title rule can tell
            copies.append(_article(f"syn-{i}", published, row.title.upper(), [{"symbol": "AAPL"}],
                                   url=f"https://other.example.org/{i}"))
        else:  # same page, tracking parameters and another host spelling
            copies.append(_article(f"url-{i}", published, f"Another headline {i}", [{"symbol": "AAPL"}],
                                   url=row.url.replace("https://www.", "https://").rstrip("/") + "/?utm_source=x&fbclid=1"))
    fresh = _article("fresh-1", _ny(day, 11), "Apple unveils a new product line", [{"symbol": "AAPL", "sentiment_score": 0.3}])
    news_file = _jsonl(tmp_path / "feed" / "news.jsonl", [*copies, fresh])
    files_path, files_config = _files_config(tmp_path, "files", news_file)

    for _refresh in range(2):  # two refreshes of the same day from the second provider
        result = run_news_job(files_config, files_path, day, day, instance=instance)
        assert result.success, _failure(result)
        after = _news_counts(config)
        assert after["news_articles"] == before["news_articles"] + 1  # only the fresh story
    meta = _meta(result, "news_articles")
    assert meta["articles_new"] == 0 and meta["duplicates"]["already_stored_refetched"] == 7
    ids = news_store.read_news_articles(engine)["article_id"]
    assert ids.is_unique and set(stored["article_id"]) < set(ids)
    # The copies' AAPL mentions went to the stored articles, not to new ones, and are scored on
    # the stored text (not the copy's upper-cased title); a stored provider score is kept.
    aapl = news_store.read_window_sentiment(engine, day, day, symbols=["AAPL"]).set_index("article_id")
    for row in stored.head(6).itertuples(index=False):
        got = aapl.loc[row.article_id]
        if row.article_id in aapl_before.index and aapl_before.loc[row.article_id, "model"] == "sample-entity":
            assert (got["model"], got["score"]) == tuple(aapl_before.loc[row.article_id, ["model", "score"]])
        else:
            expected = score_texts(article_text(pd.DataFrame([row._asdict()])))[0]
            assert got["model"] == MODEL_NAME and got["score"] == pytest.approx(expected)


def test_todays_partition_refreshed_twice_never_duplicates(stack, tmp_path, monkeypatch):
    path, config, instance = stack
    # "Now" is a fixed moment (noon New York), not the wall clock: the window of today's
    # partition ends there, whatever the hour the test runs at.
    now = pd.Timestamp("2025-06-04 12:00").tz_localize(NY)
    monkeypatch.setattr(news_service, "now_utc", lambda: now.tz_convert("UTC"))
    today = now.date()
    start = pd.Timestamp(today).tz_localize(NY)
    t1, t2 = start + (now - start) * 0.3, start + (now - start) * 0.6
    first = _article("t-1", t1.isoformat(), "Microsoft signs a cloud deal", [{"symbol": "MSFT", "sentiment_score": 0.4}])
    later = _article("t-2", t2.isoformat(), "Exxon output rises", [{"symbol": "XOM", "sentiment_score": 0.2}])
    # A story stamped in the future is not fetched yet: the window ends now.
    future = _article("t-3", (now + pd.Timedelta(hours=2)).isoformat(), "Tomorrow's story", [{"symbol": "KO"}])
    news_file = tmp_path / "feed" / "today.jsonl"
    files_path, files_config = _files_config(tmp_path, "files", news_file, start_date=str(today - dt.timedelta(days=3)))

    _jsonl(news_file, [first, future])
    assert run_news_job(files_config, files_path, today, today, instance=instance).success
    # 15 minutes later: the same story again (new id, tracking parameters) and one new story
    again = {**first, "uuid": "t-1-again", "url": first["url"] + "?utm_medium=rss"}
    _jsonl(news_file, [first, again, later, future])
    result = run_news_job(files_config, files_path, today, today, instance=instance)
    assert result.success
    stored = news_store.read_news_articles(_engine(config), today, today)
    assert sorted(stored["provider_id"]) == ["t-1", "t-2"]
    assert instance.get_materialized_partitions(dg.AssetKey("news_articles")) == {str(today)}


def test_multi_symbol_articles_and_daily_sentiment_by_hand(stack, tmp_path):
    path, config, instance = stack
    day = dt.date(2025, 6, 4)
    records = [
        # AAPL and MSFT: the provider scored AAPL only, so MSFT is scored by VADER.
        _article("h-1", _ny(day, 9), "Apple and Microsoft rally on strong demand",
                 [{"symbol": "AAPL", "match_score": 30.0, "sentiment_score": 0.6}, {"symbol": "MSFT", "match_score": 12.0}],
                 description="Investors cheered excellent results."),
        _article("h-2", _ny(day, 12), "Apple faces a lawsuit", [{"symbol": "AAPL", "sentiment_score": -0.4}]),
        _article("h-3", _ny(day, 15), "Microsoft shares plunge after a terrible outlook", [{"symbol": "MSFT"}],
                 description="Analysts warned of weak, disappointing growth."),
        # 22:30 New York is 02:30 UTC the next day: still this New York day.
        _article("h-4", _ny(day, 22, 30), "Apple prices its bond sale", [{"symbol": "aapl", "sentiment_score": 0.0}]),
        # 23:30 New York the day before: another partition, not fetched for this day.
        _article("h-5", _ny(day - dt.timedelta(days=1), 23, 30), "Apple late story", [{"symbol": "AAPL", "sentiment_score": 0.9}]),
    ]
    files_path, files_config = _files_config(tmp_path, "files", _jsonl(tmp_path / "feed" / "day.jsonl", records))
    result = run_news_job(files_config, files_path, day, day, instance=instance)
    assert result.success, _failure(result)
    engine = _engine(config)
    scores = news_store.read_window_sentiment(engine, day, day)
    assert len(scores) == 5  # h-1 twice (one row per symbol), h-2, h-3, h-4; not h-5
    assert scores.groupby("symbol").size().to_dict() == {"AAPL": 3, "MSFT": 2}
    assert set(news_store.read_news_articles(engine)["provider_id"]) == {"h-1", "h-2", "h-3", "h-4"}

    vader = SentimentIntensityAnalyzer()
    msft_1 = vader.polarity_scores("Apple and Microsoft rally on strong demand. Investors cheered excellent results.")["compound"]
    msft_3 = vader.polarity_scores(
        "Microsoft shares plunge after a terrible outlook. Analysts warned of weak, disappointing growth.")["compound"]
    assert msft_1 > 0.05 and msft_3 < -0.05  # the sentences say so; VADER agrees
    by_model = scores.groupby("symbol")["model"].agg(set).to_dict()
    assert by_model == {"AAPL": {"files-entity"}, "MSFT": {MODEL_NAME}}

    daily = news_store.read_sentiment_daily(engine, day, day).set_index("symbol")
    assert daily.loc["AAPL", "article_count"] == 3
    assert daily.loc["AAPL", "mean_score"] == pytest.approx((0.6 - 0.4 + 0.0) / 3)
    assert daily.loc["AAPL", "share_positive"] == pytest.approx(1 / 3)   # 0.6
    assert daily.loc["AAPL", "share_negative"] == pytest.approx(1 / 3)   # -0.4; 0.0 is neutral
    assert daily.loc["MSFT", "article_count"] == 2
    assert daily.loc["MSFT", "mean_score"] == pytest.approx((msft_1 + msft_3) / 2)
    assert daily.loc["MSFT", "share_positive"] == pytest.approx(0.5)
    assert daily.loc["MSFT", "share_negative"] == pytest.approx(0.5)
    assert set(daily.index) == {"AAPL", "MSFT"}
    movers = _meta(result, "sentiment_daily")["top_movers"]
    # Each symbol's row names the article that moved it most (largest absolute score).
    msft_top = "Apple and Microsoft rally" if abs(msft_1) > abs(msft_3) else "Microsoft shares plunge"
    msft_row = next(line for line in movers.splitlines() if "| MSFT |" in line)
    aapl_row = next(line for line in movers.splitlines() if "| AAPL |" in line)
    assert msft_top in msft_row and MODEL_NAME in msft_row
    assert "| 3 | +0.067 | Apple and Microsoft rally on strong demand | example.com | +0.600 | files-entity |" in aapl_row
    assert _meta(result, "news_sentiment")["models"] == {"files-entity": 3, MODEL_NAME: 2}


def test_a_quiet_day_and_a_malformed_payload(stack, tmp_path):
    path, config, instance = stack
    day, quiet = dt.date(2025, 6, 5), dt.date(2025, 6, 8)
    good = [_article("g-1", _ny(day, 10), "Coca-Cola raises its dividend", [{"symbol": "KO", "sentiment_score": 0.5}])]
    news_file = tmp_path / "feed" / "news.jsonl"
    files_path, files_config = _files_config(tmp_path, "files", news_file)
    _jsonl(news_file, good)
    assert run_news_job(files_config, files_path, day, day, instance=instance).success

    result = run_news_job(files_config, files_path, quiet, quiet, instance=instance)
    assert result.success  # no news is not a failure
    assert _meta(result, "news_articles")["dagster/row_count"] == 0
    assert news_store.read_sentiment_daily(_engine(config), quiet, quiet).empty
    before = _news_counts(config)
    daily_before = news_store.read_sentiment_daily(_engine(config))

    bad = [
        _article("b-1", _ny(quiet, 9), "Fine story", [{"symbol": "KO", "sentiment_score": 0.1}]),
        _article("b-2", _ny(quiet, 10), "Another fine story", [{"symbol": "XOM"}]),
        _article("b-3", _ny(quiet, 11), "Broken story", [{"symbol": "KO", "sentiment_score": 1.7}]),
    ]
    _jsonl(news_file, good + bad)
    result = run_news_job(files_config, files_path, quiet, quiet, instance=instance)
    assert not result.success
    message = _failure(result)
    assert "news.jsonl line 4" in message and "entities[0].sentiment_score" in message and "outside [-1, 1]" in message
    assert _news_counts(config) == before  # nothing stored half, earlier rows intact
    pd.testing.assert_frame_equal(news_store.read_sentiment_daily(_engine(config)), daily_before)


def test_retention_moves_old_articles_to_the_archive_idempotently(stack):
    path, config, instance = stack
    first, last = dt.date(2025, 6, 1), dt.date(2025, 6, 10)
    assert run_news_job(config, path, first, last, instance=instance).success
    engine = _engine(config)
    before = _news_counts(config)
    articles = news_store.read_news_articles(engine)
    daily = news_store.read_sentiment_daily(engine)
    as_of = dt.date(2025, 6, 7) + dt.timedelta(days=config.news.retention_days)  # cutoff 2025-06-07

    result = run_news_retention_job(config, path, as_of=as_of, instance=instance)
    assert result.success, _failure(result)
    meta = _meta(result, "news_archive")
    moved = (articles["date"] < "2025-06-07").sum()
    assert meta["cutoff"] == "2025-06-07" and meta["articles_moved"] == moved > 0
    after = _news_counts(config)
    assert after["news_articles"] + after["news_articles_archive"] == before["news_articles"]
    assert after["news_sentiment"] + after["news_sentiment_archive"] == before["news_sentiment"]
    assert after["news_article_keys"] == before["news_article_keys"]  # keys stay
    assert (news_store.read_news_articles(engine)["date"] >= "2025-06-07").all()
    archived = news_store.read_news_articles(engine, archived=True)
    assert (archived["date"] < "2025-06-07").all() and archived["archived_at"].notna().all()
    pd.testing.assert_frame_equal(news_store.read_sentiment_daily(engine), daily)

    again = run_news_retention_job(config, path, as_of=as_of, instance=instance)
    assert _meta(again, "news_archive")["articles_moved"] == 0
    assert _news_counts(config) == after
    # Re-fetching an archived day stores nothing again and keeps its daily sentiment.
    refetch = run_news_job(config, path, dt.date(2025, 6, 3), dt.date(2025, 6, 3), instance=instance)
    assert refetch.success and _meta(refetch, "news_articles")["duplicates"]["archived"] > 0
    assert _news_counts(config) == after
    pd.testing.assert_frame_equal(news_store.read_sentiment_daily(engine), daily)


# --------------------------------------------------------------------------------------------
# Marketaux against a local fake server


def _fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def _marketaux_config(tmp_path, monkeypatch, httpserver):
    monkeypatch.setenv("MARKETAUX_API_TOKEN", TOKEN)
    (tmp_path / "mx").mkdir()
    path = write_config(tmp_path / "mx", universe={"symbols": ["AAPL", "MSFT"]},
                        news={"provider": "marketaux", "marketaux": {"base_url": httpserver.url_for("")}})
    return str(path), load_config(path)


def _serve(httpserver, pages: dict[int, dict], seen: list) -> None:
    def handler(request):
        seen.append(dict(request.args))
        return Response(json.dumps(pages[int(request.args["page"])]), content_type="application/json")

    httpserver.expect_request("/v1/news/all").respond_with_handler(handler)


def test_marketaux_news_land_with_entity_scores_and_the_token_never_leaks(stack, tmp_path, monkeypatch, httpserver):
    _, config, instance = stack
    path, mx_config = _marketaux_config(tmp_path, monkeypatch, httpserver)
    seen: list[dict] = []
    _serve(httpserver, {1: _fixture("news_page1.json"), 2: _fixture("news_page2.json"), 3: _fixture("news_page3.json")}, seen)
    day = dt.date(2024, 1, 5)
    result = run_news_job(mx_config, path, day, day, instance=instance)
    assert result.success, _failure(result)
    assert [s["page"] for s in seen] == ["1", "2", "3"] and all(s["api_token"] == TOKEN for s in seen)
    assert seen[0]["symbols"] == "AAPL,MSFT,SPY" and seen[0]["published_after"] == "2024-01-05T04:59:59"

    engine = _engine(config)
    articles = news_store.read_news_articles(engine)
    # 1a03 is 22:15 New York on Jan 4 (another day); 1a06 is 1a01 syndicated (same title).
    assert sorted(articles["provider_id"].str[-4:]) == ["1a01", "1a02", "1a04", "1a05"]
    scores = news_store.read_window_sentiment(engine, day, day).set_index(["symbol", "article_id"])
    ids = articles.set_index(articles["provider_id"].str[-4:])["article_id"]
    assert scores.loc[("AAPL", ids["1a01"]), "score"] == pytest.approx((0.6369 + 0.5) / 2)
    assert scores.loc[("MSFT", ids["1a02"]), "model"] == "marketaux-entity"
    assert scores.loc[("AAPL", ids["1a05"]), "model"] == MODEL_NAME  # no entity score: VADER
    daily = news_store.read_sentiment_daily(engine, day, day).set_index("symbol")
    assert daily.loc["MSFT", "mean_score"] == pytest.approx((0.4404 - 0.5106) / 2)
    assert daily.loc["AAPL", "article_count"] == 3

    meta = _meta(result, "news_articles")
    assert meta["provider"] == "marketaux" and meta["provider_calls"] == 3 and meta["provider_success_rate"] == 1.0
    assert meta["duplicates"]["same_provider_id"] == 1 and meta["duplicates"]["same_title_within_24h"] == 1
    serialized = "\n".join(serialize_value(entry) for entry in instance.all_logs(result.run_id))
    assert "provider_success_rate" in serialized and "marketaux-entity" in serialized
    assert TOKEN not in serialized and TOKEN not in str(instance.get_run_by_id(result.run_id))


def test_marketaux_malformed_page_fails_the_run_and_stores_nothing(stack, tmp_path, monkeypatch, httpserver):
    _, config, instance = stack
    path, mx_config = _marketaux_config(tmp_path, monkeypatch, httpserver)
    seen: list[dict] = []
    _serve(httpserver, {1: _fixture("news_page1.json"), 2: _fixture("malformed_article.json")}, seen)
    result = run_news_job(mx_config, path, dt.date(2024, 1, 5), dt.date(2024, 1, 5), instance=instance)
    assert not result.success
    message = _failure(result)
    assert "malformed Marketaux response on page 2" in message and "data[1] has no 'uuid'" in message
    assert TOKEN not in message
    assert all(count == 0 for count in _news_counts(config).values())
    serialized = "\n".join(serialize_value(entry) for entry in instance.all_logs(result.run_id))
    assert TOKEN not in serialized


# --------------------------------------------------------------------------------------------


def test_news_definitions_share_one_daily_partitions_definition_with_lineage():
    from autoindex_pipeline.definitions import build_definitions
    from autoindex_pipeline.defs.news.definitions import NEWS_JOB, NEWS_RETENTION_JOB

    defs = build_definitions()

    assets = [defs.resolve_assets_def(key) for key in ("news_articles", "news_sentiment", "sentiment_daily")]
    partitions = {id(a.partitions_def) for a in assets}
    assert len(partitions) == 1
    pdef = assets[0].partitions_def
    assert isinstance(pdef, dg.DailyPartitionsDefinition) and pdef.timezone == NY and pdef.end_offset == 1
    assert pdef.get_last_partition_key() == str(pd.Timestamp.now(tz=NY).date())  # today is a partition
    assert all(a.backfill_policy == dg.BackfillPolicy.single_run() for a in assets)
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey("news_articles")).parent_keys == {dg.AssetKey("assets")}
    assert graph.get(dg.AssetKey("news_sentiment")).parent_keys == {dg.AssetKey("news_articles")}
    assert graph.get(dg.AssetKey("sentiment_daily")).parent_keys == {dg.AssetKey("news_sentiment")}
    assert defs.resolve_job_def(NEWS_JOB).partitions_def == pdef
    assert defs.resolve_job_def(NEWS_RETENTION_JOB).partitions_def is None


def test_news_config_errors_name_the_key(tmp_path, monkeypatch):
    from autoindex_pipeline.config import ConfigError
    from autoindex_pipeline.providers.registry import build_news_provider

    for name in "abc":
        (tmp_path / name).mkdir()
    with pytest.raises(ConfigError, match=r"news\.files\.path is required"):
        load_config(write_config(tmp_path / "a", news={"provider": "files"}))
    with pytest.raises(ConfigError, match=r"news\.retention_dayz: unknown key"):
        load_config(write_config(tmp_path / "b", news={"retention_dayz": 30}))
    config = load_config(write_config(tmp_path / "c", news={"provider": "marketaux"}))
    with pytest.raises(ConfigError, match="MARKETAUX_API_TOKEN is not set"):
        build_news_provider(config, api_token=None)
