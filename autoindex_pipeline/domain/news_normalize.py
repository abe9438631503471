"""Canonical spellings for news deduplication: a normalised URL and a title hash.

Pure functions (stdlib and pandas only) used by :mod:`autoindex_pipeline.domain.news` to build
its url and title keys, and by the news quality checks to compare URLs. Two URLs (titles) are
the same story's when their normalised forms (hashes) are equal; an empty URL or title normalises
to ``""``, which callers treat as "matches nothing".
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import pandas as pd

# Query parameters that only say who sent the reader (analytics, ad clicks, newsletters).
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "twclid",
        "ttclid", "li_fat_id", "mkt_tok", "_ga", "_gl", "_hsenc", "_hsmi", "cmpid", "ncid",
        "guccounter", "guce_referrer", "guce_referrer_sig", "ref_src", "soc_src", "soc_trk", "s_cid",
        "ito", "cid_source", "sr_share", "smid", "ocid", "src_trk", "mbid",
    }
)
TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "mc_", "pk_", "hsa_", "oly_")
_DEFAULT_PORTS = {"https": 443, "http": 80}
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


_SIMPLE_URL = re.compile(
    r"^(?P<scheme>https?)://(?P<host>[A-Za-z0-9.-]+)(?P<path>/[^?#]*)?(?:\?(?P<query>[^#]*))?(?:#.*)?$",
    re.IGNORECASE,
)


def normalize_url(url: str | None) -> str:
    """A canonical spelling of ``url`` for duplicate detection (not for fetching).

    Lower-cases scheme and host, treats ``http`` as ``https``, drops ``www.``, default ports,
    user info, the fragment and tracking parameters (``utm_*``, ``fbclid``, ``gclid``... see
    :data:`TRACKING_PARAMS`), sorts the remaining query parameters, and strips trailing slashes.
    The path keeps its case (servers treat it as case-sensitive). A URL without a scheme is read
    as ``https://``. Empty or missing input gives ``""``.
    """
    if _is_missing(url):
        return ""
    text = str(url).strip()
    if not text:
        return ""
    simple = _SIMPLE_URL.match(text)
    if simple is not None:
        # The common shape (no port, user info or IPv6 host): same result, a third of the time.
        host = simple["host"].lower().rstrip(".")
        if host.startswith("www."):
            host = host[4:]
        path = (simple["path"] or "").rstrip("/")
        return f"https://{host}{path}{_canonical_query(simple['query'])}"
    try:
        parts = urlsplit(text)
        if not parts.netloc and "://" not in text:
            parts = urlsplit("https://" + text.lstrip("/"))
        given = (parts.scheme or "https").lower()
        scheme = "https" if given == "http" else given
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:  # an unparseable netloc (bad port, broken IPv6 brackets)
        return text.lower()
    if host.startswith("www."):
        host = host[4:]
    netloc = host if port is None or port == _DEFAULT_PORTS.get(given) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, netloc, path, _canonical_query(parts.query)[1:], ""))


def _canonical_query(query: str | None) -> str:
    """``"?a=1&b=2"`` without tracking parameters, sorted; ``""`` when nothing is left."""
    if not query:
        return ""
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not _is_tracking(k)]
    return "?" + urlencode(sorted(pairs)) if pairs else ""


def normalize_urls(urls: pd.Series) -> pd.Series:
    """:func:`normalize_url` over a Series (each distinct value computed once)."""
    inverse, uniques = pd.factorize(urls.astype(object).to_numpy(), use_na_sentinel=False)
    canonical = np.array([normalize_url(u) for u in uniques], dtype=object)
    return pd.Series(canonical[inverse], index=urls.index, dtype="str")


def _title_text(title: str | None) -> str:
    if _is_missing(title):
        return ""
    folded = unicodedata.normalize("NFKC", str(title)).casefold()
    return _NON_WORD.sub(" ", folded).strip()


def title_hash(title: str | None) -> str:
    """SHA-1 (hex) of the title after NFKC, case folding and collapsing every run of
    punctuation, underscores and whitespace to one space; ``""`` for an empty title."""
    text = _title_text(title)
    return hashlib.sha1(text.encode("utf-8")).hexdigest() if text else ""
