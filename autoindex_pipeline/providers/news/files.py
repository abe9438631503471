"""Bring-your-own news: articles from JSON Lines files.

Layout
------
A path is one file or a folder; in a folder every ``*.jsonl``, ``*.ndjson`` (optionally ``.gz``)
directly inside it is read, in name order. One JSON object per line; blank lines are skipped::

    {"uuid": "7f0c...", "published_at": "2024-01-05T14:30:00Z",
     "title": "Apple beats estimates", "description": "Shares rose 3% ...",
     "url": "https://www.reuters.com/...", "source": "reuters.com", "language": "en",
     "entities": [{"symbol": "AAPL", "match_score": 31.2, "sentiment_score": 0.54},
                  {"symbol": "MSFT"}]}

=================  ========  =================================================================
field              required  meaning
=================  ========  =================================================================
uuid               yes (*)   the article's id at its provider; a string or an integer.
provider_id        yes (*)   the same thing under another name: give either (both must agree).
provider           no        who produced the article (default ``"files"``); give the real
                             provider (``"marketaux"``) to let a re-fetch from it deduplicate
                             on the id.
published_at       yes       ISO 8601 date-time *with* a UTC offset or ``Z``
                             (``2024-01-05T14:30:00Z``, ``2024-01-05T09:30:00-05:00``); a time
                             without an offset is rejected as ambiguous.
title              yes       non-empty string.
description        no        string or null (empty).
url                yes       non-empty string.
source             no        string or null, usually the publisher's domain.
language           no        string or null (ISO 639-1, e.g. ``"en"``).
entities           yes       list (may be empty) of objects:
  .symbol          yes       non-empty string (upper-cased on reading).
  .match_score     no        number or null: the provider's relevance of the symbol.
  .sentiment_score no        number in [-1, 1] or null: the provider's sentiment for the symbol.
=================  ========  =================================================================

Other fields are ignored (so a file of raw Marketaux ``data`` items, one per line, reads as is).

Anything else raises :class:`~autoindex_pipeline.providers.prices.files.FilesFormatError` (a
``ProviderError`` and a ``ValueError``) naming the file, the line and the field, for example
``news.jsonl line 7, field 'entities[1].sentiment_score': 1.7 is outside [-1, 1]``. Every
problem of every file is collected (the message shows the first few) and nothing is returned
when there is one: a half-read file never reaches the warehouse.

A fetch returns the articles with ``start <= published_at < end`` that mention a requested
symbol, with entity rows for requested symbols only. Files are read once and again only when a
file's size or modification time changes, or files are added to or removed from the folder.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from autoindex_pipeline.providers.news.base import (
    ENTITY_COLUMNS,
    NewsFetchResult,
    normalize_articles_frame,
    normalize_entities_frame,
    utc_window,
)
from autoindex_pipeline.providers.prices.base import CallStats, ProgressCallback, ProviderError
from autoindex_pipeline.providers.prices.files import FileProblem, FilesFormatError

PROVIDER = "files"
SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
_MAX_KEPT_PROBLEMS = 100


@dataclass(frozen=True)
class NewsFileProblem(FileProblem):
    """A :class:`FileProblem` worded for JSON: the "column" is a field path."""

    def __str__(self) -> str:
        where = f" {self.where}" if self.where else ""
        field = f", field {self.columns[0]!r}" if self.columns else ""
        return f"{self.path}{where}{field}: {self.message}"

    @property
    def field(self) -> str | None:
        return self.column


class _LineError(Exception):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _list_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir() if p.is_file() and not p.name.startswith(".") and p.name.lower().endswith(SUFFIXES)
        )
        if not files:
            message = f"folder holds no news file ({', '.join('*' + s for s in SUFFIXES)})"
            raise FilesFormatError([NewsFileProblem(str(path), "", (), message)])
        return files
    if not path.exists():
        raise ProviderError(f"news file or folder not found: {path}")
    return [path]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _optional_text(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _LineError(name, f"expected a string or null, got {_show(value)}")
    return value


def _required_text(obj: dict[str, Any], name: str) -> str:
    if name not in obj or obj[name] is None:
        raise _LineError(name, "is missing")
    value = obj[name]
    if not isinstance(value, str):
        raise _LineError(name, f"expected a string, got {_show(value)}")
    if not value.strip():
        raise _LineError(name, "is empty")
    return value


def _article_id(obj: dict[str, Any]) -> str:
    found: dict[str, str] = {}
    for name in ("uuid", "provider_id"):
        value = obj.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise _LineError(name, f"expected a string or an integer, got {_show(value)}")
        text = str(value).strip()
        if not text:
            raise _LineError(name, "is empty")
        found[name] = text
    if not found:
        raise _LineError("uuid", "is missing (give 'uuid' or 'provider_id')")
    if len(set(found.values())) > 1:
        raise _LineError("provider_id", f"{found['provider_id']!r} disagrees with uuid {found['uuid']!r}")
    return next(iter(found.values()))


def _published(obj: dict[str, Any]) -> pd.Timestamp:
    value = obj.get("published_at")
    if value is None:
        raise _LineError("published_at", "is missing")
    if not isinstance(value, str):
        raise _LineError("published_at", f"expected an ISO 8601 string, got {_show(value)}")
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise _LineError("published_at", f"{_show(value)} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _LineError("published_at", f"{_show(value)} has no UTC offset (add 'Z' or '+00:00')")
    return pd.Timestamp(parsed).tz_convert("UTC")


def _score(entity: dict[str, Any], name: str, where: str, bounded: bool) -> float:
    value = entity.get(name)
    if value is None:
        return math.nan
    if not _is_number(value) or not math.isfinite(float(value)):
        raise _LineError(f"{where}.{name}", f"expected a number or null, got {_show(value)}")
    if bounded and not -1.0 <= float(value) <= 1.0:
        raise _LineError(f"{where}.{name}", f"{value} is outside [-1, 1]")
    return float(value)


def _parse_line(line: str, default_provider: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _LineError(None, f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise _LineError(None, f"expected a JSON object, got {type(obj).__name__}")
    provider = _optional_text(obj, "provider").strip() or default_provider
    pid = _article_id(obj)
    article = {
        "provider": provider,
        "provider_id": pid,
        "published_at": _published(obj),
        "title": _required_text(obj, "title"),
        "description": _optional_text(obj, "description"),
        "url": _required_text(obj, "url").strip(),
        "source": _optional_text(obj, "source"),
        "language": _optional_text(obj, "language"),
    }
    if "entities" not in obj or obj["entities"] is None:
        raise _LineError("entities", "is missing (give [] for an article that names no symbol)")
    raw_entities = obj["entities"]
    if not isinstance(raw_entities, list):
        raise _LineError("entities", f"expected a list, got {_show(raw_entities)}")
    entities = []
    for i, entity in enumerate(raw_entities):
        where = f"entities[{i}]"
        if not isinstance(entity, dict):
            raise _LineError(where, f"expected an object, got {_show(entity)}")
        symbol = entity.get("symbol")
        if not isinstance(symbol, str) or not symbol.strip():
            problem = "is missing" if symbol is None else f"expected a non-empty string, got {_show(symbol)}"
            raise _LineError(f"{where}.symbol", problem)
        entities.append(
            {
                "provider": provider,
                "provider_id": pid,
                "symbol": symbol.strip().upper(),
                "match_score": _score(entity, "match_score", where, bounded=False),
                "provider_sentiment": _score(entity, "sentiment_score", where, bounded=True),
            }
        )
    return article, entities


def _read_lines(path: Path) -> list[str]:
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                return handle.read().splitlines()
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise FilesFormatError([NewsFileProblem(str(path), "", (), message)]) from None
    except (OSError, EOFError) as exc:
        message = f"cannot be read ({type(exc).__name__}: {exc})"
        raise FilesFormatError([NewsFileProblem(str(path), "", (), message)]) from None


def _read_file(
    path: Path, default_provider: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[NewsFileProblem], int]:
    articles: list[dict[str, Any]] = []
    entities: list[dict[str, Any]] = []
    problems: list[NewsFileProblem] = []
    omitted = 0
    shown = str(path)
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            article, rows = _parse_line(line, default_provider)
        except _LineError as exc:
            if len(problems) < _MAX_KEPT_PROBLEMS:
                columns = (exc.field,) if exc.field else ()
                problems.append(NewsFileProblem(shown, f"line {number}", columns, exc.message, number))
            else:
                omitted += 1
            continue
        articles.append(article)
        entities.extend(rows)
    if not articles and not problems:
        problems.append(NewsFileProblem(shown, "", (), "holds no article (the file is empty)"))
    return articles, entities, problems, omitted


class NewsFilesProvider:
    """:class:`~autoindex_pipeline.providers.news.base.NewsProvider` over JSON Lines files in the
    layout of the module docstring."""

    name = PROVIDER

    def __init__(self, path: str | Path, *, provider_name: str = PROVIDER) -> None:
        self.path = Path(path)
        self.provider_name = provider_name
        self._cache: tuple[tuple, pd.DataFrame, pd.DataFrame] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"NewsFilesProvider(path={str(self.path)!r})"

    def fetch_news(
        self,
        symbols: Sequence[str],
        start: dt.datetime,
        end: dt.datetime,
        progress: ProgressCallback | None = None,
    ) -> NewsFetchResult:
        lo, hi = utc_window(start, end)
        wanted = list(dict.fromkeys(str(s).strip().upper() for s in symbols if str(s).strip()))
        articles, entities = self._load()
        in_window = articles.loc[(articles["published_at"] >= lo) & (articles["published_at"] < hi)]
        ents = entities.loc[entities["symbol"].isin(wanted)]
        keys = ["provider", "provider_id"]
        mentioned = ents[keys].drop_duplicates()
        kept = in_window.merge(mentioned, on=keys, how="inner")
        ents = ents.merge(kept[keys].drop_duplicates(), on=keys, how="inner")
        if progress is not None:
            progress(len(wanted), len(wanted))
        return NewsFetchResult(
            normalize_articles_frame(kept), normalize_entities_frame(ents), {}, CallStats(calls=1, succeeded=1)
        )

    def _load(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        files = _list_files(self.path)
        signature = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
        with self._lock:
            if self._cache is not None and self._cache[0] == signature:
                return self._cache[1], self._cache[2]
            all_articles: list[dict[str, Any]] = []
            all_entities: list[dict[str, Any]] = []
            problems: list[NewsFileProblem] = []
            omitted = 0
            for path in files:
                articles, entities, file_problems, file_omitted = _read_file(path, self.provider_name)
                all_articles.extend(articles)
                all_entities.extend(entities)
                problems.extend(file_problems)
                omitted += file_omitted
            if problems:
                raise FilesFormatError(problems, omitted)
            frame = normalize_articles_frame(pd.DataFrame.from_records(all_articles))
            entity_frame = normalize_entities_frame(pd.DataFrame.from_records(all_entities, columns=list(ENTITY_COLUMNS)))
            self._cache = (signature, frame, entity_frame)
            return frame, entity_frame
