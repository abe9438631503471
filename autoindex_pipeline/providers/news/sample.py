"""The offline, deterministic default news provider: synthetic but realistic financial headlines.

Determinism
-----------
Everything about the articles of one symbol on one UTC calendar day is a pure function of
``(seed, symbol, day)``: how many there are, their times, headlines, sources, ids, entity scores
and injected duplicates. Random numbers come from a counter-based hash (SplitMix64 over a BLAKE2b
hash of ``(seed, symbol)``, the day number, the article's index and a stream constant), computed
in vectorised NumPy, so they do not depend on the NumPy version, on the requested window or on
the other symbols requested. A request generates the whole UTC days it touches (plus the day
before, whose late duplicates may spill over) and keeps ``start <= published_at < end``: one hour
fetched alone equals the same hour inside a day's or a quarter's fetch. The hash is
:mod:`~autoindex_pipeline.providers.news.sample_random`; the templates and vocabulary are
:mod:`~autoindex_pipeline.providers.news.sample_text`.

Generator
---------
Per symbol and UTC day the number of *stories* is Poisson with mean ``mean_per_day[asset_class]``
(defaults: equity 3.0, etf 1.0, commodity 0.6) times ``weekend_factor`` (0.3) on Saturdays and
Sundays, capped at 15. With the packaged universe (~500 equities, a few funds), 90 days hold
about 115k article rows (>= 100k for any 90-day window). Each story draws:

* a tone: positive 40 %, negative 30 %, neutral 30 %, and a headline from that tone's 12
  templates ("{name} beats estimates as quarterly profit jumps 12.4%", "{name} cuts full-year
  guidance by 5.1% as demand weakens", "{name} announces quarterly dividend of $0.45 per share",
  ...) filled with the company's short name, ticker, quarter and a number; a description from
  the same tone, worded so that a lexicon model reads the tone too (empty for about 8 % of
  stories). The template and its number come from a per-symbol slot that advances with the day
  and the story, through a bijection, so two stories of one symbol less than ~66 days apart never
  share a title: every shared title within 24 h is an injected syndicated copy;
* a publication time (UTC) from an hour-of-day profile shaped like US market news: busy 12-14
  (pre-market releases), steady through the session, a second peak 20-22 (after-close earnings)
  and a thin overnight tail, so about a fifth of the stories fall at or after 20:00 UTC and some
  before 04:00 UTC (the previous New York day);
* a source (domain, like Marketaux's ``source``) and a URL ``https://www.<domain>/...`` (no
  ``www.`` for sub-domains such as finance.yahoo.com), a UUID-like ``provider_id``, ``language``
  ``"en"``;
* entity rows: the symbol (``match_score`` 20-60) and, for **multi-symbol** stories, one or two
  sector peers (``match_score`` 5-25); ``match_score`` is NaN on about 5 % of rows;
* provider sentiment on about 55 % of stories (every entity row of the story gets one, drawn
  around the tone: positive 0.2-0.9, negative -0.9 to -0.2, neutral -0.15 to 0.15); the other
  stories have NaN, so scoring exercises both the provider and the lexicon branches.

Injected cases
--------------
=====================  =======================================================================
case                   what (rates are per story)
=====================  =======================================================================
quiet days             Poisson zeros: ~5 % of equity weekdays, ~40 % of equity weekend days,
                       most fund days. No row at all for that symbol and day.
multi-symbol           12 %: the story also names one (60 %) or two sector peers, each with
                       its own entity row. Peers of a symbol are the next two symbols of its
                       sector in the universe (alphabetical, wrapping), so they depend on the
                       universe's sector membership (the only thing that does).
URL duplicate          2 %: the same story again 5-90 minutes later from the same source under
                       a new ``provider_id``, same title, URL differing only by tracking
                       parameters (``utm_*``, ``fbclid``), host case, ``www.``, trailing slash
                       or a fragment. Its entity scores differ slightly (match +-3, sentiment
                       +-0.05) so merged entities have something to merge.
syndicated copy        2 %: the same title (upper-cased for half of them) 1-6 hours later from a
                       *different* source and domain (different URL, new ``provider_id``):
                       only the title hash within 24 h can tell.
repeated id            1 %: the very same row (same ``provider_id``) returned twice, entity rows
                       included, as a paging provider does.
=====================  =======================================================================

Fetching symbols ``S`` returns the stories of ``S`` *and* the stories of other symbols that
name a member of ``S`` as a peer, with entity rows only for members of ``S`` (Marketaux's
``filter_entities=true``). So a one-symbol fetch equals the full fetch restricted to that symbol.
Unknown symbols are reported in ``failures``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from autoindex_pipeline.providers.news.base import (
    NewsFetchResult,
    empty_articles_frame,
    empty_entities_frame,
    normalize_articles_frame,
    normalize_entities_frame,
    utc_window,
)
from autoindex_pipeline.providers.news.sample_random import mix, poisson_cdf_table, symbol_hash, uniform, uuid_text
from autoindex_pipeline.providers.news.sample_text import (
    DESCRIPTIONS,
    MONTHS,
    SECTIONS,
    SESSIONS,
    SOURCES,
    TITLES,
    TONES,
    URL_VARIANTS,
    WEEKDAYS,
    short_name,
    title_slug,
    url_host,
)
from autoindex_pipeline.providers.prices.base import CallStats, ProgressCallback

PROVIDER = "sample"
DEFAULT_MEAN_PER_DAY: Mapping[str, float] = {"equity": 3.0, "etf": 1.0, "commodity": 0.6}
DEFAULT_WEEKEND_FACTOR = 0.3
MAX_STORIES_PER_DAY = 15
MULTI_SYMBOL_RATE = 0.12
URL_DUPLICATE_RATE = 0.02
SYNDICATED_RATE = 0.02
REPEATED_ID_RATE = 0.01
PROVIDER_SENTIMENT_RATE = 0.55
EMPTY_DESCRIPTION_RATE = 0.08
MISSING_MATCH_SCORE_RATE = 0.05
_SLOTS = 12 * 84  # headline templates per tone x distinct numbers (see _generate)
_SCRAMBLE = 1031  # coprime to _SLOTS, so slot -> slot * _SCRAMBLE is a bijection
_NS_PER_DAY = 86_400 * 10**9
_NS_PER_MINUTE = 60 * 10**9

# Relative weight of each UTC hour (US market news: pre-market releases, the session, after-close).
_HOUR_WEIGHTS = np.array(
    [1.2, 1.0, 0.8, 0.6, 0.4, 0.3, 0.3, 0.4, 0.6, 0.8, 1.4, 2.2,
     3.5, 3.8, 3.2, 2.6, 2.4, 2.3, 2.3, 2.4, 3.2, 3.4, 2.2, 1.5]
)  # fmt: skip
_HOUR_CDF = np.cumsum(_HOUR_WEIGHTS) / _HOUR_WEIGHTS.sum()

# Tone probabilities in the order of TONES: positive 40 %, negative 30 %, neutral 30 %.
_TONE_CDF = np.array([0.40, 0.70, 1.0])

# Stream constants: one independent uniform per purpose.
(_S_COUNT, _S_HOUR, _S_SECOND, _S_TONE, _S_SPARE1, _S_DESC, _S_EMPTY_DESC, _S_SOURCE, _S_SECTION, _S_SPARE2,
 _S_SPARE3, _S_NUM3, _S_MULTI, _S_PEERS, _S_MATCH, _S_MATCH_NA, _S_HAS_SENT, _S_SENT, _S_DUP, _S_DUP_DELAY,
 _S_DUP_VARIANT, _S_DUP_SOURCE, _S_DUP_CASE, _S_ID_HI, _S_ID_LO, _S_DUP_ID_HI, _S_DUP_ID_LO,
 _S_DUP_JITTER) = (np.uint64(0x9E3779B97F4A7C15 * (i + 1) % 2**64) for i in range(28))  # fmt: skip


class SampleNewsProvider:
    """:class:`~autoindex_pipeline.providers.news.base.NewsProvider` of synthetic news for a
    universe (columns ``symbol``, ``asset_class``, ``sector``, optional ``name``); see the module
    docstring for the generator and its injected cases."""

    name = PROVIDER

    def __init__(
        self,
        universe: pd.DataFrame,
        seed: int = 42,
        *,
        mean_per_day: float | Mapping[str, float] | None = None,
        weekend_factor: float = DEFAULT_WEEKEND_FACTOR,
    ) -> None:
        missing = [c for c in ("symbol", "asset_class", "sector") if c not in universe.columns]
        if missing:
            raise ValueError(f"universe is missing column(s): {', '.join(missing)}")
        uni = universe.copy()
        uni["symbol"] = uni["symbol"].astype(str).str.strip()
        dupes = sorted(uni.loc[uni["symbol"].duplicated(), "symbol"].unique())
        if dupes:
            raise ValueError(f"universe lists symbol(s) twice: {', '.join(dupes)}")
        if "name" not in uni.columns:
            uni["name"] = uni["symbol"]
        if isinstance(mean_per_day, (int, float)):
            means = {cls: float(mean_per_day) for cls in set(uni["asset_class"]) | set(DEFAULT_MEAN_PER_DAY)}
        else:
            means = {**DEFAULT_MEAN_PER_DAY, **(mean_per_day or {})}
        if any(v < 0 for v in means.values()) or not 0 <= weekend_factor:
            raise ValueError("article means and weekend_factor must not be negative")
        self.seed = int(seed)
        self.mean_per_day = dict(means)
        self.weekend_factor = float(weekend_factor)
        uni = uni.sort_values("symbol", kind="stable").reset_index(drop=True)
        self._symbols: list[str] = uni["symbol"].tolist()
        self._index = {s: i for i, s in enumerate(self._symbols)}
        self._tickers = np.array(self._symbols, dtype=object)
        self._names = np.array(
            [short_name(n, s) for n, s in zip(uni["name"], uni["symbol"], strict=True)], dtype=object
        )
        fallback = DEFAULT_MEAN_PER_DAY["equity"]
        self._means = np.array([float(self.mean_per_day.get(c, fallback)) for c in uni["asset_class"]])
        self._hashes = np.array([symbol_hash(self.seed, s) for s in self._symbols], dtype=np.uint64)
        self._slot_offset = (self._hashes % np.uint64(_SLOTS)).astype(np.int64)
        # Peers: the next two symbols of the same sector (wrapping); -1 when the sector is smaller.
        peers = np.full((len(uni), 2), -1, dtype=np.int64)
        for _, members in uni.groupby("sector", sort=False).groups.items():
            idx = np.sort(np.asarray(members, dtype=np.int64))
            for j in range(1, 3):
                if len(idx) > j:
                    peers[idx, j - 1] = np.roll(idx, -j)
        self._peers = peers
        self._mentioned_by: dict[int, set[int]] = {}
        for i, row in enumerate(peers):
            for p in row:
                if p >= 0:
                    self._mentioned_by.setdefault(int(p), set()).add(i)

    @property
    def symbols(self) -> list[str]:
        return list(self._symbols)

    def __repr__(self) -> str:
        return f"SampleNewsProvider(symbols={len(self._symbols)}, seed={self.seed})"

    def fetch_news(
        self,
        symbols: Sequence[str],
        start: dt.datetime,
        end: dt.datetime,
        progress: ProgressCallback | None = None,
    ) -> NewsFetchResult:
        lo, hi = utc_window(start, end)
        wanted = list(dict.fromkeys(str(s).strip().upper() for s in symbols if str(s).strip()))
        lookup = {s.upper(): i for s, i in self._index.items()}
        failures = {s: "unknown symbol" for s in wanted if s not in lookup}
        targets = np.array(sorted({lookup[s] for s in wanted if s in lookup}), dtype=np.int64)
        if progress is not None:
            progress(0, len(wanted))
        if not len(targets):
            if progress is not None:
                progress(len(wanted), len(wanted))
            stats = CallStats(calls=1, succeeded=1)
            return NewsFetchResult(empty_articles_frame(), empty_entities_frame(), failures, stats)
        authors = set(targets.tolist())
        for t in targets.tolist():
            authors |= self._mentioned_by.get(t, set())
        articles, entities = self._generate(np.array(sorted(authors), dtype=np.int64), lo, hi, targets)
        if progress is not None:
            progress(len(wanted), len(wanted))
        return NewsFetchResult(articles, entities, failures, CallStats(calls=1, succeeded=1))

    # ------------------------------------------------------------------ generation

    def _generate(
        self, authors: np.ndarray, lo: pd.Timestamp, hi: pd.Timestamp, targets: np.ndarray
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        lo_ns, hi_ns = lo.value, hi.value
        first_day = lo_ns // _NS_PER_DAY - 1  # the day before: its late duplicates may spill over
        last_day = (hi_ns - 1) // _NS_PER_DAY
        days = np.arange(first_day, last_day + 1, dtype=np.int64)

        # --- stories per (symbol, day)
        sym = np.repeat(authors, len(days))
        day = np.tile(days, len(authors))
        sd_key = mix(self._hashes[sym] ^ mix(day.astype(np.uint64)))
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; 5, 6 = Saturday, Sunday
        mean = self._means[sym] * np.where(weekday >= 5, self.weekend_factor, 1.0)
        uniq_means, which = np.unique(mean, return_inverse=True)
        cdf = poisson_cdf_table(uniq_means, MAX_STORIES_PER_DAY)
        u = uniform(sd_key, _S_COUNT)
        count = np.minimum((u[:, None] > cdf[which]).sum(axis=1), MAX_STORIES_PER_DAY)

        # --- one row per story
        s_sym = np.repeat(sym, count)
        s_day = np.repeat(day, count)
        s_k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        key = mix(np.repeat(sd_key, count) ^ mix(s_k.astype(np.uint64) + np.uint64(1)))
        n = len(key)

        hour = np.searchsorted(_HOUR_CDF, uniform(key, _S_HOUR), side="right").clip(0, 23)
        second = (uniform(key, _S_SECOND) * 3600).astype(np.int64)
        published = s_day * _NS_PER_DAY + (hour * 3600 + second) * 10**9
        tone = np.searchsorted(_TONE_CDF, uniform(key, _S_TONE), side="right").clip(0, 2)
        # Headline template and its number come from a per-symbol slot that advances by
        # MAX_STORIES_PER_DAY a day and by one per story, scrambled by a bijection: two stories
        # of one symbol less than ~67 days apart never get the same (template, number), so they
        # never share a title (sharing one would make them one story to the deduplication).
        slot = (self._slot_offset[s_sym] + s_day * MAX_STORIES_PER_DAY + s_k) % _SLOTS
        mixed = (slot * _SCRAMBLE + 17) % _SLOTS
        title_i = mixed % len(TITLES["positive"])
        q = mixed // len(TITLES["positive"])
        desc_i = (uniform(key, _S_DESC) * len(DESCRIPTIONS["positive"])).astype(np.int64)
        empty_desc = uniform(key, _S_EMPTY_DESC) < EMPTY_DESCRIPTION_RATE
        source_i = (uniform(key, _S_SOURCE) * len(SOURCES)).astype(np.int64)
        section_i = (uniform(key, _S_SECTION) * len(SECTIONS)).astype(np.int64)
        small = uniform(key, _S_NUM3)
        multi = uniform(key, _S_MULTI) < MULTI_SYMBOL_RATE
        n_peers = np.where(multi, np.where(uniform(key, _S_PEERS) < 0.6, 1, 2), 0)
        peer1 = np.where(n_peers >= 1, self._peers[s_sym, 0], -1)
        peer2 = np.where(n_peers >= 2, self._peers[s_sym, 1], -1)
        has_sent = uniform(key, _S_HAS_SENT) < PROVIDER_SENTIMENT_RATE
        sent_u = uniform(key, _S_SENT)
        base_sent = np.select(
            [tone == 0, tone == 1], [0.2 + 0.7 * sent_u, -0.9 + 0.7 * sent_u], default=-0.15 + 0.3 * sent_u
        )
        dup_u = uniform(key, _S_DUP)

        # Calendar facts per day, computed once per day rather than per story.
        day_dates = days.astype("datetime64[D]")
        day_text = np.char.replace(np.datetime_as_string(day_dates, unit="D"), "-", "")
        day_month = day_dates.astype("datetime64[M]").astype(np.int64) % 12  # 0 = January
        s_day_i = s_day - first_day

        ids = uuid_text(mix(key ^ _S_ID_HI), mix(key ^ _S_ID_LO))
        titles: list[str] = []
        descriptions: list[str] = []
        urls: list[str] = []
        sources: list[str] = []
        names, tickers = self._names, self._tickers
        for i in range(n):
            s = int(s_sym[i])
            d = int(s_day_i[i])
            month = int(day_month[d])
            sm = float(small[i])
            qi = int(q[i])
            fields = {
                "name": names[s],
                "ticker": tickers[s],
                # Each of these is distinct for distinct q (steps wider than the rounding).
                "pct": f"{0.8 + qi * 0.17:.1f}",
                "amount": f"{0.5 + qi * 0.47:.1f}",
                "div": f"{0.10 + qi * 0.029:.2f}",
                "count": f"{100 + qi * 587:,}",
                # (month, day) from q alone: a date relative to the story's month would let two
                # stories a month apart render the same title from different q.
                "month": MONTHS[qi // 7],
                "dom": str(1 + (qi % 7) * 4 + int(sm * 4)),
                "quarter": f"Q{month // 3 + 1}",
                "weekday": WEEKDAYS[int(sm * 5)],
                "session": SESSIONS[int(sm * 5)],
            }
            tone_name = TONES[int(tone[i])]
            titles.append(TITLES[tone_name][int(title_i[i])].format_map(fields))
            if empty_desc[i]:
                description = ""
            else:
                description = DESCRIPTIONS[tone_name][int(desc_i[i])].format_map(fields)
                peers = [names[p] for p in (peer1[i], peer2[i]) if p >= 0]
                if peers:
                    description += f" Shares of peer{'s' if len(peers) > 1 else ''} {' and '.join(peers)} also moved."
            descriptions.append(description)
            domain = SOURCES[int(source_i[i])]
            section = SECTIONS[int(section_i[i])]
            urls.append(f"https://{url_host(domain)}/{section}/{tickers[s].lower()}-{day_text[d]}-{ids[i][:8]}")
            sources.append(domain)

        articles = pd.DataFrame(
            {
                "story": np.arange(n),
                "provider_id": ids,
                "published_ns": published,
                "title": titles,
                "description": descriptions,
                "url": urls,
                "source": sources,
            }
        )

        # Entity rows of the stories: the symbol, then its peers (role 1 and 2).
        with_p1, with_p2 = np.flatnonzero(peer1 >= 0), np.flatnonzero(peer2 >= 0)
        ent_story = np.concatenate([np.arange(n), with_p1, with_p2])
        ent_symbol = np.concatenate([s_sym, peer1[with_p1], peer2[with_p2]])
        role = np.concatenate(
            [np.zeros(n, np.int64), np.ones(len(with_p1), np.int64), np.full(len(with_p2), 2, np.int64)]
        )
        ent_key = mix(key[ent_story] ^ mix(role.astype(np.uint64) + np.uint64(7)))
        match = np.where(role == 0, 20.0 + 40.0 * uniform(ent_key, _S_MATCH), 5.0 + 20.0 * uniform(ent_key, _S_MATCH))
        match = np.where(uniform(ent_key, _S_MATCH_NA) < MISSING_MATCH_SCORE_RATE, np.nan, np.round(match, 2))
        peer_shift = np.where(role == 0, 0.0, (uniform(ent_key, _S_SENT) - 0.5) * 0.2)
        sentiment = np.round(np.clip(base_sent[ent_story] + peer_shift, -1, 1), 4)
        sentiment = np.where(has_sent[ent_story], sentiment, np.nan)
        entities = pd.DataFrame(
            {"story": ent_story, "symbol": tickers[ent_symbol], "match_score": match, "provider_sentiment": sentiment}
        )

        # --- injected duplicates (see the module docstring)
        url_cut, synd_cut = URL_DUPLICATE_RATE, URL_DUPLICATE_RATE + SYNDICATED_RATE
        url_dup = np.flatnonzero(dup_u < url_cut)
        syndicated = np.flatnonzero((dup_u >= url_cut) & (dup_u < synd_cut))
        repeated = np.flatnonzero((dup_u >= synd_cut) & (dup_u < synd_cut + REPEATED_ID_RATE))
        art_blocks = [articles, articles.iloc[repeated]]  # a repeat keeps its story, hence its id
        ent_blocks = [entities, entities.loc[entities["story"].isin(repeated)]]
        next_story = n
        for rows, kind in ((url_dup, "url"), (syndicated, "syndicated")):
            copy, copy_entities = self._duplicates(articles, entities, key, source_i, rows, kind, next_story)
            art_blocks.append(copy)
            ent_blocks.append(copy_entities)
            next_story += len(rows)
        all_articles = pd.concat(art_blocks, ignore_index=True)
        all_entities = pd.concat(ent_blocks, ignore_index=True)

        # --- the window, and entity rows of requested symbols only (filter_entities semantics)
        published_ns = all_articles["published_ns"].to_numpy()
        all_articles = all_articles.loc[(published_ns >= lo_ns) & (published_ns < hi_ns)]
        all_entities = all_entities.loc[all_entities["symbol"].isin(set(tickers[targets].tolist()))]
        keep = np.intersect1d(all_entities["story"].to_numpy(), all_articles["story"].to_numpy())
        all_articles = all_articles.loc[all_articles["story"].isin(keep)]
        all_entities = all_entities.loc[all_entities["story"].isin(keep)]
        if not len(all_articles):
            return empty_articles_frame(), empty_entities_frame()

        id_of = all_articles.drop_duplicates("story").set_index("story")["provider_id"]
        ids_of_rows = id_of.reindex(all_entities["story"]).to_numpy()
        all_entities = all_entities.assign(provider=PROVIDER, provider_id=ids_of_rows)
        all_articles = all_articles.assign(
            provider=PROVIDER,
            language="en",
            published_at=pd.to_datetime(all_articles["published_ns"].to_numpy(), utc=True),
        )
        return normalize_articles_frame(all_articles), normalize_entities_frame(all_entities)

    @staticmethod
    def _duplicates(
        articles: pd.DataFrame,
        entities: pd.DataFrame,
        key: np.ndarray,
        source_i: np.ndarray,
        rows: np.ndarray,
        kind: str,
        first_story: int,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Copies of the stories ``rows``: a URL variant from the same source ("url") or the same
        title from another source ("syndicated"), with new ids and story numbers."""
        k = key[rows]
        copy = articles.iloc[rows].copy()
        copy["story"] = first_story + np.arange(len(rows))
        copy["provider_id"] = uuid_text(mix(k ^ _S_DUP_ID_HI), mix(k ^ _S_DUP_ID_LO))
        if kind == "url":
            delay = 5 + (uniform(k, _S_DUP_DELAY) * 85).astype(np.int64)
            variant = (uniform(k, _S_DUP_VARIANT) * len(URL_VARIANTS)).astype(np.int64)
            new_urls = []
            tags = (k % np.uint64(10**8)).tolist()
            for url, v, tag in zip(copy["url"].tolist(), variant.tolist(), tags, strict=True):
                host, _, rest = url[len("https://") :].partition("/")
                bare = host[4:] if host.startswith("www.") else host
                new_urls.append(
                    URL_VARIANTS[v].format(host=host, HOST=host.upper(), bare=bare, path="/" + rest, tag=f"{tag:08d}")
                )
            copy["url"] = new_urls
        else:
            delay = 60 + (uniform(k, _S_DUP_DELAY) * 300).astype(np.int64)
            shift = 1 + (uniform(k, _S_DUP_SOURCE) * (len(SOURCES) - 1)).astype(np.int64)
            new_source = (source_i[rows] + shift) % len(SOURCES)
            copy["source"] = [SOURCES[j] for j in new_source]
            copy["url"] = [
                f"https://{url_host(SOURCES[j])}/news/{title_slug(title)}-{pid[:6]}"
                for j, title, pid in zip(new_source, copy["title"], copy["provider_id"], strict=True)
            ]
            upper = uniform(k, _S_DUP_CASE) < 0.5
            copy["title"] = [t.upper() if up else t for t, up in zip(copy["title"], upper, strict=True)]
        copy["published_ns"] = copy["published_ns"].to_numpy() + delay * _NS_PER_MINUTE

        renumber = pd.Series(copy["story"].to_numpy(), index=rows)
        ents = entities.loc[entities["story"].isin(rows)].copy()
        jitter = uniform(mix(key[ents["story"].to_numpy()] ^ np.uint64(len(kind))), _S_DUP_JITTER) - 0.5
        ents["match_score"] = (ents["match_score"] + jitter * 6.0).round(2)
        ents["provider_sentiment"] = (ents["provider_sentiment"] + jitter * 0.1).clip(-1.0, 1.0).round(4)
        ents["story"] = renumber.reindex(ents["story"].to_numpy()).to_numpy()
        return copy, ents
