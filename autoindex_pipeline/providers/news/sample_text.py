"""The words of the sample news provider: headline and description templates, the vocabulary
that fills them, the outlets, and the URL spellings of injected duplicates.

Data and string helpers only; :mod:`autoindex_pipeline.providers.news.sample` decides which
template, number and source each story gets.
"""

from __future__ import annotations

import re

SOURCES: tuple[str, ...] = (
    "reuters.com", "bloomberg.com", "marketwatch.com", "finance.yahoo.com", "seekingalpha.com",
    "benzinga.com", "cnbc.com", "barrons.com", "fool.com", "investing.com", "businesswire.com",
    "prnewswire.com", "wsj.com", "ft.com", "zacks.com", "investors.com",
)  # fmt: skip
SECTIONS = ("markets", "news", "business", "stocks", "companies")

TONES = ("positive", "negative", "neutral")
# Every headline carries a number drawn per story, so two different stories of one company a day
# apart practically never share a title (the deduplication would rightly merge them if they did).
TITLES: dict[str, tuple[str, ...]] = {
    "positive": (
        "{name} beats estimates as quarterly profit jumps {pct}%",
        "{name} shares surge {pct}% after strong {quarter} results",
        "{name} raises full-year revenue guidance to ${amount} billion on robust demand",
        "{name} announces ${amount} billion share buyback",
        "Analysts upgrade {name} to buy, see {pct}% upside on strong growth",
        "{name} wins ${amount} billion contract; shares rally",
        "{name} posts record {quarter} revenue of ${amount} billion",
        "{name} hikes dividend by {pct}% on solid cash flow",
        "{name} stock climbs {pct}% to all-time high",
        "{name} ({ticker}) tops expectations, lifts outlook; stock up {pct}%",
        "Why {name} stock is soaring {pct}% today",
        "{name} gains {pct}% after successful launch of new product line",
    ),
    "negative": (
        "{name} cuts full-year guidance by {pct}% as demand weakens",
        "{name} misses estimates; shares fall {pct}%",
        "{name} shares plunge {pct}% after disappointing {quarter} results",
        "Analysts downgrade {name} to sell, see {pct}% downside on weak outlook",
        "{name} hit with regulatory probe; shares slump {pct}%",
        "{name} to cut {count} jobs amid falling sales",
        "{name} warns of ${amount} billion loss as costs climb",
        "{name} ({ticker}) stock sinks {pct}% on weak forecast",
        "{name} faces ${amount} billion lawsuit over alleged accounting fraud",
        "{name} suspends ${amount} billion buyback as debt worries mount",
        "Why {name} stock is crashing {pct}% today",
        "{name} reports {quarter} loss of ${amount} billion, worst quarter in years",
    ),
    "neutral": (
        "{name} announces quarterly dividend of ${div} per share",
        "{name} to report {quarter} earnings on {weekday}, consensus sees ${div} per share",
        "{name} names new chief financial officer, effective {month} {dom}",
        "{name} schedules investor day for {month} {dom}",
        "{name} completes previously announced ${amount} billion debt offering",
        "What to watch in {name} ({ticker}) stock this week: {count} options contracts open",
        "{name} files annual report with the SEC, lists {count} employees",
        "{name} to present at industry conference on {month} {dom}",
        "{name} ({ticker}) trading volume at {count} thousand shares: {weekday} update",
        "{name} sets {month} {dom} date for annual shareholder meeting",
        "{name} prices ${amount} billion notes offering",
        "{name} confirms {quarter} earnings call for {month} {dom}",
    ),
}
DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "positive": (
        "Shares of {name} ({ticker}) gained {pct}% in {session} trading after the company delivered "
        "results that topped analyst expectations.",
        "Management said demand remained strong and raised its outlook for the rest of the year, "
        "a welcome boost for investors.",
        "The company reported better-than-expected earnings and excellent cash generation, and "
        "analysts praised the progress.",
        "{name} said growth accelerated in every region, and the stock hit a new high.",
    ),
    "negative": (
        "Shares of {name} ({ticker}) fell {pct}% in {session} trading after the company reported "
        "weak results and lowered its outlook.",
        "Management warned that demand is slowing and costs are rising, a disappointing update for "
        "worried investors.",
        "Investors were disappointed by the poor quarter and the cautious forecast; analysts cut "
        "their targets.",
        "{name} blamed falling orders and higher losses, and the stock dropped to its lowest level "
        "this year.",
    ),
    "neutral": (
        "{name} ({ticker}) said in a statement on {weekday} that the details are in a regulatory filing.",
        "The announcement was made after the {session} session. The company did not provide further details.",
        "{name} said the schedule is unchanged from the one it published earlier this year.",
        "The filing lists the terms; {name} ({ticker}) shares traded in {session} hours.",
    ),
}
SESSIONS = ("early", "midday", "late", "after-hours", "pre-market")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_NAME_SUFFIX = re.compile(
    r",?\s+(Inc\.?|Incorporated|Corporation|Corp\.?|Company|Co\.|plc|Ltd\.?|Limited|Holdings?|Group"
    r"|N\.V\.|S\.A\.|L\.P\.|LP|Trust|& Co\.)$",
    re.IGNORECASE,
)
URL_VARIANTS = (
    "https://{host}{path}?utm_source=twitter&utm_medium=social&utm_campaign=markets",
    "https://{HOST}{path}/",
    "https://{bare}{path}?fbclid=IwAR{tag}",
    "https://{host}{path}/#comments",
)


def short_name(name: str, symbol: str) -> str:
    """The company name as a headline says it: "Apple Inc." -> "Apple"; the ticker when there is no name."""
    text = str(name).strip() if isinstance(name, str) and name.strip() else symbol
    for _ in range(2):
        text = _NAME_SUFFIX.sub("", text).strip()
    if text.lower().startswith("the "):
        text = text[4:]
    return text or symbol


def url_host(domain: str) -> str:
    """The host of a source's URLs: ``www.`` before a bare domain, none before a sub-domain."""
    return domain if domain.count(".") > 1 else f"www.{domain}"


def title_slug(title: str) -> str:
    """The URL slug of a headline: lower-case words joined by dashes, at most 60 characters."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]
