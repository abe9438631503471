"""News deduplication (domain spec section 9): an article seen twice is stored once.

Pure functions over the news frames of :mod:`autoindex_pipeline.domain.frames`; no I/O. The
canonical URL and title spellings (:func:`normalize_url`, :func:`title_hash`) are in
:mod:`autoindex_pipeline.domain.news_normalize`.

Three kinds of duplicate, checked in this order and merged transitively (if A and B share a
URL and B and C share a title, A, B and C are one article):

1. **same provider id** - ``(provider, provider_id)``: a provider returned the article twice
   (overlapping pages, two refreshes of the same window, two symbols' batches);
2. **same normalised URL** - :func:`normalize_url`: the same story under tracking parameters,
   another host spelling, a trailing slash, or from a second provider that links the same page;
3. **same title within 24 hours** - :func:`title_hash` equal and published at most
   :data:`SAME_STORY_WINDOW` (24 h) after the first article of that title: the same wire story
   syndicated by several outlets under different URLs. The window is *anchored* at the first
   occurrence and does not chain, so a recurring headline ("Stocks making the biggest moves
   premarket") published every day is one article per day, not one forever. Titles are compared
   after case folding, Unicode NFKC and collapsing every run of punctuation/whitespace, so
   "Apple beats estimates." and "APPLE  beats estimates" are the same title. An empty title or
   URL never matches anything.

Stable ids
----------
Every merged article gets ``article_id`` = SHA-1 (hex) of the *first-seen* row's id key
``"id:<provider>:<provider_id>"``, where first-seen means earliest ``published_at`` (ties: provider,
then provider_id). The same input always gives the same ids. Across refreshes, pass the keys
stored so far as ``existing_keys``: an article any of whose keys is already known takes the stored
``article_id`` (so re-fetching it, or fetching the same story later from another provider or
source, never changes or forks its id) and is flagged ``is_new = False``.

Keys
----
A key frame has columns ``key`` (str), ``article_id`` (str), ``published_at`` (UTC). Keys are
``id:<provider>:<provider_id>``, ``url:<sha1 of the normalised url>`` and ``title:<title hash>``;
id and url keys map to one article, a title key may map to several (one per 24 h story), which is
why title matches also compare ``published_at``. :func:`deduplicate` returns the keys it learnt in
``report.keys``; storing them (primary key ``(key, article_id)``) and passing them back next time
is what makes deduplication work across refreshes and providers. :func:`article_keys` rebuilds
the representative keys from stored articles when no key table was kept (ids of merged duplicates
are then forgotten, but their URL and title still match).

Entities of merged duplicates are unioned per ``(article_id, symbol)``: the highest
``match_score`` and the mean of the available provider sentiments; ``provider`` is the provider
whose sentiment was used (first-seen such row), so scoring can name its model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from autoindex_pipeline.domain.frames import (
    ARTICLE_COLUMNS,
    normalize_articles_frame,
    normalize_entities_frame,
)

# The canonical spellings the keys are built from; imported here too, so callers and tests keep
# importing them from the deduplication module.
from autoindex_pipeline.domain.news_normalize import normalize_url, normalize_urls, title_hash

__all__ = [
    "DEDUP_ARTICLE_COLUMNS",
    "DEDUP_ENTITY_COLUMNS",
    "KEY_COLUMNS",
    "SAME_STORY_WINDOW",
    "DedupReport",
    "article_keys",
    "deduplicate",
    "empty_keys_frame",
    "normalize_url",
    "normalize_urls",
    "title_hash",
]

SAME_STORY_WINDOW = pd.Timedelta(hours=24)
KEY_COLUMNS: tuple[str, ...] = ("key", "article_id", "published_at")
DEDUP_ARTICLE_COLUMNS: tuple[str, ...] = ("article_id", *ARTICLE_COLUMNS, "is_new")
DEDUP_ENTITY_COLUMNS: tuple[str, ...] = ("article_id", "symbol", "match_score", "provider_sentiment", "provider")


# --------------------------------------------------------------------------------------------
# Keys


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _id_keys(articles: pd.DataFrame) -> pd.Series:
    return "id:" + articles["provider"].astype(str) + ":" + articles["provider_id"].astype(str)


def _url_keys(articles: pd.DataFrame) -> pd.Series:
    canonical = normalize_urls(articles["url"])
    return pd.Series(
        [f"url:{_sha1(u)}" if u else "" for u in canonical.to_numpy()], index=articles.index, dtype="str"
    )


def _title_keys(articles: pd.DataFrame) -> pd.Series:
    inverse, uniques = pd.factorize(articles["title"].astype(object).to_numpy(), use_na_sentinel=False)
    hashes = np.array([title_hash(t) for t in uniques], dtype=object)
    keys = np.array([f"title:{h}" if h else "" for h in hashes], dtype=object)
    return pd.Series(keys[inverse], index=articles.index, dtype="str")


def empty_keys_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "key": pd.Series([], dtype="str"),
            "article_id": pd.Series([], dtype="str"),
            "published_at": pd.Series([], dtype="datetime64[ns, UTC]"),
        }
    )


def _normalize_keys(keys: pd.DataFrame | None) -> pd.DataFrame:
    if keys is None:
        return empty_keys_frame()
    missing = [c for c in KEY_COLUMNS if c not in keys.columns]
    if missing:
        raise ValueError(f"existing_keys frame is missing column(s): {', '.join(missing)}")
    out = keys.loc[:, list(KEY_COLUMNS)].copy()
    out["key"] = out["key"].astype(str)
    out["article_id"] = out["article_id"].astype(str)
    out["published_at"] = pd.to_datetime(out["published_at"], utc=True).astype("datetime64[ns, UTC]")
    return out


def article_keys(articles: pd.DataFrame) -> pd.DataFrame:
    """The id, url and title keys of articles that already carry an ``article_id`` (for example
    the stored ``news_articles`` rows), as a key frame to pass to :func:`deduplicate`."""
    if "article_id" not in articles.columns:
        raise ValueError("articles frame is missing column(s): article_id")
    arts = normalize_articles_frame(articles, keep=("article_id",))
    return _collapse_keys(_key_rows(arts, arts["article_id"].astype(str).to_numpy()))


def _key_rows(arts: pd.DataFrame, ids: np.ndarray, keys: tuple[pd.Series, ...] | None = None) -> pd.DataFrame:
    """Every (key, article_id, published_at) of normalised articles; empty keys left out."""
    published = arts["published_at"].array
    if keys is None:
        keys = (_id_keys(arts), _url_keys(arts), _title_keys(arts))
    parts = [
        pd.DataFrame({"key": k.to_numpy(dtype=object), "article_id": ids, "published_at": published}) for k in keys
    ]
    out = pd.concat(parts, ignore_index=True)
    return out.loc[out["key"] != ""]


def _collapse_keys(keys: pd.DataFrame) -> pd.DataFrame:
    keys = keys.sort_values(["key", "article_id", "published_at"], kind="stable")
    keys = keys.drop_duplicates(subset=["key", "article_id"], keep="first")
    out = keys.reset_index(drop=True)
    out["key"] = out["key"].astype("str")
    out["article_id"] = out["article_id"].astype("str")
    out["published_at"] = out["published_at"].astype("datetime64[ns, UTC]")
    return out


# --------------------------------------------------------------------------------------------
# Deduplication


@dataclass
class DedupReport:
    """What :func:`deduplicate` merged. ``merged_*`` count input rows folded into an earlier one
    at each step (so ``input_articles - merged_same_provider_id - merged_same_url -
    merged_same_title == output_articles``). ``keys`` holds the keys learnt from this batch that
    ``existing_keys`` did not already have (store them; see the module doc)."""

    input_articles: int = 0
    output_articles: int = 0
    new_articles: int = 0
    merged_same_provider_id: int = 0
    merged_same_url: int = 0
    merged_same_title: int = 0
    matched_existing: int = 0
    existing_conflicts: int = 0
    input_entities: int = 0
    output_entities: int = 0
    orphan_entities: int = 0
    keys: pd.DataFrame = field(default_factory=empty_keys_frame, repr=False)

    def as_metadata(self) -> dict[str, int]:
        return {
            "news_input_articles": self.input_articles,
            "news_output_articles": self.output_articles,
            "news_new_articles": self.new_articles,
            "news_merged_same_provider_id": self.merged_same_provider_id,
            "news_merged_same_url": self.merged_same_url,
            "news_merged_same_title": self.merged_same_title,
            "news_matched_existing": self.matched_existing,
            "news_existing_conflicts": self.existing_conflicts,
            "news_orphan_entities": self.orphan_entities,
        }


def _group_codes(keys: pd.Series) -> np.ndarray:
    """Dense group number per row, -1 where the key is empty."""
    codes, _ = pd.factorize(keys.to_numpy(dtype=object), use_na_sentinel=True)
    codes = codes.astype(np.int64)
    codes[keys.to_numpy(dtype=object) == ""] = -1
    return codes


def _title_clusters(title_keys: pd.Series, published: np.ndarray) -> np.ndarray:
    """Group number per row for "same title within 24 h of the first of its story", -1 for none.

    Rows must be in ``published`` order. A title whose rows all fall in one window is one group
    (the common case, no Python loop); only titles spanning more than the window are walked.
    """
    codes = _group_codes(title_keys)
    out = codes.copy()
    valid = codes >= 0
    if not valid.any():
        return out
    frame = pd.DataFrame({"code": codes[valid], "t": published[valid], "row": np.flatnonzero(valid)})
    span = frame.groupby("code")["t"].agg(["min", "max"])
    long = span.index[(span["max"] - span["min"]) > SAME_STORY_WINDOW.value]
    if len(long):
        next_code = int(codes.max()) + 1
        window = SAME_STORY_WINDOW.value
        walk = frame.loc[frame["code"].isin(long)]
        for _, group in walk.groupby("code", sort=False):
            anchor = None
            current = -1
            for row, t in zip(group["row"].to_numpy(), group["t"].to_numpy(), strict=True):
                if anchor is None or t - anchor > window:
                    anchor, current = t, next_code
                    next_code += 1
                out[row] = current
    return out


def _connect(labels: np.ndarray, groupings: list[np.ndarray]) -> np.ndarray:
    """Connected components: rows sharing a group number in any grouping get one label (the
    smallest row index of the component). Min-label propagation with pointer jumping."""
    labels = labels.copy()
    while True:
        before = labels.copy()
        for codes in groupings:
            mask = codes >= 0
            if not mask.any():
                continue
            lowest = np.full(int(codes.max()) + 1, len(labels), dtype=np.int64)
            np.minimum.at(lowest, codes[mask], labels[mask])
            labels[mask] = lowest[codes[mask]]
        while True:
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
        if np.array_equal(before, labels):
            return labels


def _match_existing(
    id_keys: pd.Series, url_keys: pd.Series, title_keys: pd.Series, published: pd.Series, existing: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the stored article_id it matches ("" if none) and the kind of match
    (0 id, 1 url, 2 title, 3 none)."""
    n = len(id_keys)
    matched = np.full(n, "", dtype=object)
    rank = np.full(n, 3, dtype=np.int64)
    if not len(existing) or not n:
        return matched, rank
    # id and url keys are unique by construction; if a caller's table disagrees, the earliest wins.
    exact = existing.sort_values(["published_at", "article_id"], kind="stable").drop_duplicates("key")
    lookup = pd.Series(exact["article_id"].to_numpy(), index=exact["key"].to_numpy())
    for kind, keys in ((2, None), (1, url_keys), (0, id_keys)):
        if keys is None:
            continue
        hit = keys.map(lookup).to_numpy(dtype=object)
        found = pd.notna(hit) & (keys.to_numpy(dtype=object) != "")
        better = found & (kind < rank)
        matched[better], rank[better] = hit[better], kind
    titles = existing.loc[existing["key"].str.startswith("title:")]
    has_title = (title_keys != "").to_numpy() & (rank == 3)
    if len(titles) and has_title.any():
        left = pd.DataFrame(
            {
                "key": pd.array(title_keys.to_numpy(dtype=object)[has_title], dtype="str"),
                "t": published.array[has_title],
                "row": np.flatnonzero(has_title),
            }
        ).sort_values("t", kind="stable")
        right = titles.rename(columns={"published_at": "t"}).sort_values("t", kind="stable")
        joined = pd.merge_asof(left, right, on="t", by="key", direction="nearest", tolerance=SAME_STORY_WINDOW)
        joined = joined.loc[joined["article_id"].notna()]
        rows = joined["row"].to_numpy()
        matched[rows], rank[rows] = joined["article_id"].to_numpy(dtype=object), 2
    return matched, rank


def deduplicate(
    articles: pd.DataFrame,
    entities: pd.DataFrame,
    existing_keys: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, DedupReport]:
    """Merge duplicate articles (see the module doc for the rules and ids).

    ``articles`` / ``entities`` are provider frames (any mix of providers); ``existing_keys`` a
    key frame (``key, article_id, published_at``) of what is already stored, or None.

    Returns ``(articles, entities, report)``:

    * articles: one row per article, columns ``article_id``, the article columns of the first-seen
      row, and ``is_new`` (False when it matched a stored article: its stored row should be kept,
      only its entities may have grown). Sorted by (published_at, article_id).
    * entities: ``article_id, symbol, match_score, provider_sentiment, provider``, one row per
      (article_id, symbol). Entity rows whose article is not in ``articles`` are dropped and
      counted as ``orphan_entities``.
    """
    arts = normalize_articles_frame(articles)
    ents = normalize_entities_frame(entities)
    existing = _normalize_keys(existing_keys)
    n = len(arts)
    report = DedupReport(input_articles=n, input_entities=len(ents))

    id_keys, url_keys, title_keys = _id_keys(arts), _url_keys(arts), _title_keys(arts)
    published_ns = arts["published_at"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    rows = np.arange(n, dtype=np.int64)
    by_id = _group_codes(id_keys)
    by_url = _group_codes(url_keys)
    by_title = _title_clusters(title_keys, published_ns)

    labels = _connect(rows, [by_id])
    after_id = len(np.unique(labels))
    labels = _connect(labels, [by_id, by_url])
    after_url = len(np.unique(labels))
    labels = _connect(labels, [by_id, by_url, by_title])
    after_title = len(np.unique(labels))
    report.merged_same_provider_id = n - after_id
    report.merged_same_url = after_id - after_url
    report.merged_same_title = after_url - after_title

    # Rows are in first-seen order, so a component's label is its first-seen row.
    own_id = np.array([_sha1(k) for k in id_keys.to_numpy(dtype=object)], dtype=object)
    matched, rank = _match_existing(id_keys, url_keys, title_keys, arts["published_at"], existing)
    pick = pd.DataFrame({"label": labels, "rank": rank, "row": rows, "matched": matched})
    linked = pick.loc[pick["rank"] < 3]
    if len(linked):
        distinct = linked.groupby("label")["matched"].nunique()
        report.existing_conflicts = int((distinct > 1).sum())
        best = linked.sort_values(["label", "rank", "row"], kind="stable").drop_duplicates("label")
        stored = pd.Series(best["matched"].to_numpy(), index=best["label"].to_numpy())
    else:
        stored = pd.Series([], dtype=object)
    cluster_ids = own_id[labels]
    is_stored = np.isin(labels, stored.index.to_numpy())
    if is_stored.any():
        cluster_ids[is_stored] = stored.reindex(labels[is_stored]).to_numpy()
    row_article_id = cluster_ids.astype(str)

    representative = labels == rows
    out = arts.loc[representative].copy()
    out.insert(0, "article_id", pd.array(row_article_id[representative], dtype="str"))
    out["is_new"] = ~is_stored[representative]
    out = out.sort_values(["published_at", "article_id"], kind="stable").reset_index(drop=True)
    report.output_articles = len(out)
    report.new_articles = int(out["is_new"].sum())
    report.matched_existing = report.output_articles - report.new_articles

    # Entities follow their article row (the same provider id twice maps to one article anyway).
    row_of = pd.DataFrame(
        {
            "provider": arts["provider"].to_numpy(),
            "provider_id": arts["provider_id"].to_numpy(),
            "article_id": row_article_id,
            "row": rows,
        }
    ).drop_duplicates(["provider", "provider_id"])
    # The same provider id returned twice carries the same entities: count them once.
    ents = ents.drop_duplicates(["provider", "provider_id", "symbol"], keep="first")
    joined = ents.merge(row_of, on=["provider", "provider_id"], how="left", validate="many_to_one")
    orphan = joined["article_id"].isna()
    report.orphan_entities = int(orphan.sum())
    joined = joined.loc[~orphan]
    out_entities = _union_entities(joined)
    report.output_entities = len(out_entities)

    keys = _collapse_keys(_key_rows(arts, row_article_id, (id_keys, url_keys, title_keys)))
    if len(existing):
        known = pd.MultiIndex.from_frame(existing[["key", "article_id"]])
        keys = keys.loc[~pd.MultiIndex.from_frame(keys[["key", "article_id"]]).isin(known)].reset_index(drop=True)
    report.keys = keys
    return out.loc[:, list(DEDUP_ARTICLE_COLUMNS)], out_entities, report


def _union_entities(joined: pd.DataFrame) -> pd.DataFrame:
    if not len(joined):
        return pd.DataFrame(
            {
                "article_id": pd.Series([], dtype="str"),
                "symbol": pd.Series([], dtype="str"),
                "match_score": pd.Series([], dtype="float64"),
                "provider_sentiment": pd.Series([], dtype="float64"),
                "provider": pd.Series([], dtype="str"),
            }
        )
    joined = joined.assign(no_sentiment=joined["provider_sentiment"].isna())
    # First-seen row with a sentiment names the provider; without any sentiment, the first-seen row.
    ordered = joined.sort_values(["article_id", "symbol", "no_sentiment", "row"], kind="stable")
    grouped = ordered.groupby(["article_id", "symbol"], sort=True)
    out = pd.DataFrame(
        {
            "match_score": grouped["match_score"].max(),
            "provider_sentiment": grouped["provider_sentiment"].mean(),
            "provider": grouped["provider"].first(),
        }
    ).reset_index()
    out["article_id"] = out["article_id"].astype("str")
    out["symbol"] = out["symbol"].astype("str")
    out["provider"] = out["provider"].astype("str")
    out["match_score"] = out["match_score"].astype("float64")
    out["provider_sentiment"] = out["provider_sentiment"].astype("float64")
    return out.loc[:, list(DEDUP_ENTITY_COLUMNS)]
