"""Synthetic but realistic data sets, deterministic by seed: what the demo and the tests use.

``sentiment``: financial-news-like sentences labelled positive / negative / neutral, with varied
wording, class imbalance, label noise, repeated sentences and a few conflicting repeats.
``customers``: a tabular customer table with numeric and categorical columns and a segment label.
The seed problems' tables, shaped like their public data sets (columns, types, missing values,
imbalance): ``customer_segments`` (3 segments, one rare), ``campaign`` (success 0/1, with the
raised amount that gives it away), ``order_reviews`` (a 1-5 review score from the order's numbers
and, for some, the review's text: a regression).

``drift`` makes a window that differs from the default data in known ways, for monitoring trials:
``numeric`` (customers' income scaled up), ``category`` (customers moved to the app channel),
``vocabulary`` (sentences in words the default data never uses), ``label`` (the class balance
tilted towards one class); each with a strength between 0 and 1. Without ``drift`` the data is
exactly the default data of that seed: the drift draws come from a random stream of their own.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from bricksml.errors import BricksmlError

COMPANIES = [
    "Nokia",
    "Fiskars",
    "Stora Enso",
    "Kone",
    "Wartsila",
    "Outokumpu",
    "Elisa",
    "Orion",
    "Sampo",
    "UPM-Kymmene",
    "Metso",
    "Tieto",
    "Kesko",
    "Finnair",
    "Ahlstrom",
    "Raisio",
    "Aspo",
    "Componenta",
    "Ramirent",
    "Cargotec",
    "Apple",
    "Tesla",
    "Barclays",
    "HSBC",
    "Glencore",
    "Unilever",
    "Siemens",
    "Volvo",
    "Ericsson",
    "Danske Bank",
]
METRICS = [
    "net sales",
    "operating profit",
    "net profit",
    "revenue",
    "earnings per share",
    "order intake",
    "operating margin",
    "cash flow",
    "pre-tax profit",
    "comparable sales",
]
PERIODS = [
    "in the first quarter",
    "in the second quarter",
    "in the third quarter",
    "in 2024",
    "for the full year",
    "in the January-June period",
    "year-on-year",
    "in the fourth quarter",
]
UP = ["rose", "increased", "grew", "jumped", "climbed", "surged", "improved", "went up"]
DOWN = ["fell", "decreased", "dropped", "declined", "slumped", "plunged", "went down", "shrank"]
POSITIVE_EVENTS = [
    "{c} wins a major contract worth EUR {m} million",
    "{c} shares hit a record high after strong results",
    "analysts upgrade {c} to buy on improving demand",
    "{c} raises its outlook for the year",
    "{c} reports better than expected results {p}",
    "{c} to expand production, adding {n} jobs",
    "$TKR looking bullish, breaking out above resistance",
    "{c} signs a strategic partnership that lifts growth prospects",
]
NEGATIVE_EVENTS = [
    "{c} issues a profit warning",
    "{c} to cut {n} jobs as demand weakens",
    "{c} shares tumble after disappointing results",
    "analysts downgrade {c} to sell",
    "{c} lowers its guidance for the year",
    "{c} faces a lawsuit over delayed deliveries",
    "$TKR breaking down, bearish setup here",
    "{c} reports a loss {p} amid weak demand",
]
NEUTRAL_EVENTS = [
    "{c} will publish its interim report on {d}",
    "{c} holds its annual general meeting in Helsinki",
    "the company {c} is headquartered in {city}",
    "{c} appoints a new chief financial officer",
    "{c} has {n} employees in {k} countries",
    "{c} operates production facilities in {city}",
    "the transaction is expected to be completed {p}",
    "{c} said the contract terms were not disclosed",
    "{c} supplies equipment to the pulp and paper industry",
    "{c} shares were traded on the stock exchange {p}",
]
PREFIXES = [
    "",
    "",
    "",
    "According to the company, ",
    "In a stock exchange release, ",
    "Meanwhile, ",
    "On {d}, ",
    "Reuters reports that ",
    "In {city}, ",
    "As announced earlier, ",
]
SUFFIXES = [
    "",
    "",
    "",
    ", the company said",
    ", {c} said in a statement",
    ", analysts said",
    " , according to a press release",
    ", the CEO told reporters",
    " on {d}",
    " in {city}",
]
CITIES = ["Helsinki", "Espoo", "Tampere", "Oulu", "London", "Stockholm", "Frankfurt", "Turku"]
DATES = ["April 25", "July 18", "October 23", "February 6", "May 2", "August 9"]
LABELS = ("positive", "negative", "neutral")


#: The drifts each kind can be given, and the one a bare name (no ``=strength``) means.
DRIFTS = {"sentiment": ("vocabulary", "label"), "customers": ("numeric", "category", "label")}
DEFAULT_STRENGTH = 0.5
#: Offset of the drift's own random stream from the seed's (the default data's stream is untouched).
_DRIFT_STREAM = 7_919
#: Where ``label`` drift moves the classes: sentiment towards negative, customers towards high value.
_SENTIMENT_SHARES = np.array([0.30, 0.15, 0.55])
_SENTIMENT_TILTED = np.array([0.10, 0.80, 0.10])
_TILTED_SEGMENT = "high_value"
# Words of a market the default sentences never mention: what a vocabulary drift brings in.
NEW_ASSETS = ["Solana", "Cardano", "Polkadot", "Avalanche", "Chainlink", "Dogecoin", "Tether", "Litecoin"]
NEW_VENUES = ["Binance", "Kraken", "Coinbase", "Bitstamp", "Bybit", "OKX"]
NEW_EVENTS = {
    "positive": [
        "{a} token rallies as {v} listing boosts demand",
        "{a} staking rewards lift holders' yields",
        "whales accumulate {a} ahead of the mainnet upgrade",
    ],
    "negative": [
        "{a} stablecoin depegs amid {v} withdrawal freeze",
        "hackers drain {a} bridge, liquidity evaporates",
        "{v} delists {a} after regulators' crackdown",
    ],
    "neutral": [
        "{v} lists {a} perpetual futures for trading",
        "{a} validators schedule a governance vote",
        "{a} wallet addresses reach {n} on {v}",
    ],
}


def parse_drift(text: str | Mapping[str, float] | None, kind: str) -> dict[str, float]:
    """``"vocabulary=0.5,label"`` (or a mapping) as ``{drift: strength}``, checked for ``kind``."""
    if not text:
        return {}
    items = text.items() if isinstance(text, Mapping) else [_drift_item(part) for part in text.split(",")]
    out: dict[str, float] = {}
    allowed = DRIFTS[kind]
    for name, strength in items:
        if name not in allowed:
            raise BricksmlError(
                f"drift {name!r} does not apply to {kind} data; it takes {', '.join(allowed)}"
            )
        if not 0.0 < strength <= 1.0:
            raise BricksmlError(f"drift {name}={strength:g}: the strength is above 0 and at most 1")
        out[name] = float(strength)
    return out


def _drift_item(part: str) -> tuple[str, float]:
    name, _, value = part.strip().partition("=")
    try:
        return name.strip(), float(value) if value.strip() else DEFAULT_STRENGTH
    except ValueError:
        raise BricksmlError(f"drift {part.strip()!r}: write name=strength, e.g. label=0.5") from None


def sentiment(rows: int, seed: int = 0, drift: str | Mapping[str, float] | None = None) -> pd.DataFrame:
    """Financial-news-like sentences with the label ``Sentiment`` and the text ``Sentence``."""
    shifts = parse_drift(drift, "sentiment")
    rng = np.random.default_rng(seed)
    shares = _SENTIMENT_SHARES
    if "label" in shifts:
        shares = (1 - shifts["label"]) * _SENTIMENT_SHARES + shifts["label"] * _SENTIMENT_TILTED
    label_idx = rng.choice(3, size=rows, p=shares)
    sentences = [_sentence(rng, LABELS[i]) for i in label_idx]
    labels = np.array(LABELS, dtype=object)[label_idx]
    noise = rng.random(rows) < 0.06  # annotators disagree on some sentences
    labels[noise] = np.array(LABELS, dtype=object)[rng.integers(0, 3, noise.sum())]
    frame = pd.DataFrame({"id": np.arange(1, rows + 1), "Sentence": sentences, "Sentiment": labels})
    repeats = int(rows * 0.03)  # the same sentence reposted, sometimes relabelled
    if repeats and rows > 10:
        source = rng.choice(rows, size=repeats, replace=False)
        target = rng.choice(rows, size=repeats, replace=False)
        frame.loc[target, "Sentence"] = frame.loc[source, "Sentence"].to_numpy()
        same = rng.random(repeats) < 0.8
        frame.loc[target[same], "Sentiment"] = frame.loc[source[same], "Sentiment"].to_numpy()
    if "vocabulary" in shifts:
        frame["Sentence"] = _new_vocabulary(frame, shifts["vocabulary"], seed)
    return frame


def _new_vocabulary(frame: pd.DataFrame, strength: float, seed: int) -> list[str]:
    """A ``strength`` share of the sentences rewritten in a market's words the default data lacks."""
    rng = np.random.default_rng(seed + _DRIFT_STREAM)
    sentences = frame["Sentence"].tolist()
    for row in np.flatnonzero(rng.random(len(frame)) < strength):
        events = NEW_EVENTS[frame["Sentiment"].iat[row]]
        text = events[rng.integers(len(events))].format(
            a=NEW_ASSETS[rng.integers(len(NEW_ASSETS))],
            v=NEW_VENUES[rng.integers(len(NEW_VENUES))],
            n=int(rng.integers(1000, 90000)),
        )
        sentences[row] = text[0].upper() + text[1:]
    return sentences


def _sentence(rng: np.random.Generator, label: str) -> str:
    company = COMPANIES[rng.integers(len(COMPANIES))]
    period = PERIODS[rng.integers(len(PERIODS))]
    metric = METRICS[rng.integers(len(METRICS))]
    style = rng.random()
    if label != "neutral" and style < 0.55:
        verb = (UP if label == "positive" else DOWN)[rng.integers(8)]
        a = round(float(rng.uniform(1, 900)), 1)
        change = round(float(rng.uniform(0.5, 60)), 1)
        forms = [
            f"{company}'s {metric} {verb} by {change}% to EUR {a} million {period}",
            f"{metric.capitalize()} {verb} {change} percent {period}, {company} said",
            f"{period.capitalize()}, {metric} {verb} to EUR {a} mn at {company}",
        ]
        return forms[rng.integers(len(forms))]
    events = {"positive": POSITIVE_EVENTS, "negative": NEGATIVE_EVENTS, "neutral": NEUTRAL_EVENTS}[label]
    template = events[rng.integers(len(events))]
    template = PREFIXES[rng.integers(len(PREFIXES))] + template + SUFFIXES[rng.integers(len(SUFFIXES))]
    text = template.format(
        c=company,
        p=period,
        m=int(rng.integers(5, 500)),
        n=int(rng.integers(20, 5000)),
        k=int(rng.integers(2, 40)),
        d=DATES[rng.integers(len(DATES))],
        city=CITIES[rng.integers(len(CITIES))],
    )
    text = text.replace("TKR", company.upper().replace(" ", "")[:4])
    return text[0].upper() + text[1:] + ("." if rng.random() < 0.7 else "")


def customers(rows: int, seed: int = 0, drift: str | Mapping[str, float] | None = None) -> pd.DataFrame:
    """Customers with numeric and categorical columns and ``customer_segment`` as the label."""
    shifts = parse_drift(drift, "customers")
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows)
    income = np.round(rng.lognormal(10.6, 0.5, rows), 2)
    tenure = rng.integers(0, 120, rows)
    purchases = rng.poisson(8, rows)
    basket = np.round(rng.gamma(3.0, 25.0, rows), 2)
    gender = rng.choice(["female", "male", "other"], rows, p=[0.49, 0.48, 0.03])
    region = rng.choice(["north", "south", "east", "west"], rows)
    channel = rng.choice(["web", "store", "app"], rows, p=[0.5, 0.3, 0.2])
    drift_rng = np.random.default_rng(seed + _DRIFT_STREAM)
    if "numeric" in shifts:  # incomes up by up to 150%: the segments follow, as they would
        income = np.round(income * (1 + 1.5 * shifts["numeric"]), 2)
    if "category" in shifts:
        channel = np.where(drift_rng.random(rows) < shifts["category"], "app", channel)
    value = (
        0.00002 * income
        + 0.06 * purchases
        + 0.008 * basket
        + 0.01 * tenure
        + np.where(channel == "app", 0.4, 0.0)
        + rng.normal(0, 0.35, rows)
    )
    segment = np.where(value > np.quantile(value, 0.8), "high_value", "medium_value")
    segment = np.where(value < np.quantile(value, 0.1), "low_value", segment)
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{100000 + i}" for i in range(rows)],
            "age": age,
            "gender": gender,
            "region": region,
            "channel": channel,
            "annual_income": income,
            "tenure_months": tenure,
            "purchases": purchases,
            "avg_basket": basket,
            "customer_segment": segment,
        }
    )
    missing = rng.random(rows) < 0.02  # real tables have gaps
    frame.loc[missing, "annual_income"] = np.nan
    if "label" in shifts:
        frame = _tilted(frame, "customer_segment", _TILTED_SEGMENT, shifts["label"], drift_rng)
        frame["customer_id"] = [f"C{100000 + i}" for i in range(rows)]
    return frame


def _tilted(
    frame: pd.DataFrame, label_col: str, towards: str, strength: float, rng: np.random.Generator
) -> pd.DataFrame:
    """The rows drawn again (as many), those of class ``towards`` up to 9 times as likely."""
    weights = np.where(frame[label_col].to_numpy() == towards, 1.0 + 8.0 * strength, 1.0)
    rows = rng.choice(len(frame), size=len(frame), replace=True, p=weights / weights.sum())
    return frame.iloc[np.sort(rows)].reset_index(drop=True)


# -- the seed problems' tables, shaped like the public data sets of each problem ------------------

SEGMENTS = ("high_value", "medium_value", "low_value")
#: Shares as in the public customer-segment table: a class of 6 in 1,000 rows.
_SEGMENT_SHARES = np.array([0.136, 0.858, 0.006])


def customer_segments(
    rows: int, seed: int = 0, drift: str | Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Customers as in the public segmentation table: 3 segments, one of them rare (0.6%).

    The segment follows spending and purchases, loyalty makes a customer high value more often;
    the other columns are as uninformative as they are there.
    """
    _no_drift(drift, "customer_segments")
    rng = np.random.default_rng(seed)
    segment = rng.choice(3, size=rows, p=_SEGMENT_SHARES)
    high, low = segment == 0, segment == 2
    purchases = np.where(low, rng.integers(1, 30, rows), rng.integers(5, 200, rows))
    purchases = np.where(high, np.maximum(purchases, rng.integers(60, 200, rows)), purchases)
    spent = np.where(
        high,
        rng.normal(35_000, 8_000, rows),
        np.where(low, rng.uniform(500, 6_000, rows), rng.normal(23_500, 11_000, rows)),
    )
    spent = np.round(np.clip(spent, 200, 50_000), 2)
    loyalty = np.where(high, 1, (rng.random(rows) < 0.18).astype(int))
    return pd.DataFrame(
        {
            "customer_id": [f"CUST_{i + 1:04d}" for i in range(rows)],
            "age": rng.integers(18, 70, rows),
            "gender": rng.choice(["Male", "Female"], rows, p=[0.52, 0.48]),
            "annual_income": rng.integers(20_000, 150_000, rows),
            "total_spent": spent,
            "num_purchases": purchases,
            "avg_purchase_value": np.round(rng.uniform(10, 1_000, rows), 2),
            "online_activity_score": np.round(rng.uniform(0, 100, rows), 2),
            "loyalty_program": loyalty,
            "days_since_last_purchase": rng.integers(0, 365, rows),
            "num_site_visits": rng.integers(1, 100, rows),
            "customer_segment": np.array(SEGMENTS, dtype=object)[segment],
        }
    )


CAMPAIGN_CATEGORIES = ("Art", "Film", "Technology", "Music", "Games")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
COUNTRIES = ("Germany", "USA", "Australia", "UK", "Canada")
CURRENCIES = ("GBP", "USD", "EUR", "AUD", "CAD")


def campaign(rows: int, seed: int = 0, drift: str | Mapping[str, float] | None = None) -> pd.DataFrame:
    """Crowdfunding campaigns as in the public campaign table: ``IsSuccessful`` 0/1, balanced.

    Success follows the backers per unit of goal, a video, updates and the owner's experience
    (noisily); ``RaisedAmount`` is known only once the campaign ends and gives success away
    (raised >= goal), exactly as in the public table: the leak a model must be trained without.
    """
    _no_drift(drift, "campaign")
    rng = np.random.default_rng(seed)
    goal = rng.integers(1_000, 100_000, rows)
    backers = rng.integers(10, 2_000, rows)
    video = rng.random(rows) < 0.5
    updates = rng.integers(0, 50, rows)
    experience = rng.integers(0, 20, rows)
    category = rng.choice(len(CAMPAIGN_CATEGORIES), rows)
    pull = (
        0.9 * (np.log(backers) - np.log(goal / 50.0))
        + 0.8 * video
        + 0.025 * updates
        + 0.04 * experience
        + np.array([0.0, 0.1, 0.4, -0.1, 0.2])[category]
        + rng.logistic(0, 1.0, rows)
    )
    success = pull > np.median(pull)
    ratio = np.where(success, rng.uniform(1.0, 1.5, rows), rng.uniform(0.5, 1.0, rows))
    return pd.DataFrame(
        {
            "CampaignID": [f"CID_{i:05d}" for i in range(rows)],
            "GoalAmount": goal,
            "RaisedAmount": goal * ratio,
            "DurationDays": rng.integers(15, 90, rows),
            "NumBackers": backers,
            "Category": np.array(CAMPAIGN_CATEGORIES, dtype=object)[category],
            "LaunchMonth": rng.choice(MONTHS, rows),
            "Country": rng.choice(COUNTRIES, rows),
            "Currency": rng.choice(CURRENCIES, rows),
            "OwnerExperience": experience,
            "VideoIncluded": np.where(video, "Yes", "No"),
            "SocialMediaPresence": rng.integers(100, 100_000, rows),
            "NumUpdates": updates,
            "IsSuccessful": success.astype(int),
        }
    )


PAYMENTS = ("credit_card", "boleto", "voucher", "debit_card")
_PAYMENT_SHARES = (0.74, 0.19, 0.055, 0.015)
PRODUCT_CATEGORIES = (
    "bed_bath_table", "health_beauty", "sports_leisure", "furniture_decor", "computers_accessories",
    "housewares", "watches_gifts", "telephony", "garden_tools", "auto", "toys", "cool_stuff",
    "perfumery", "baby", "electronics", "stationery", "fashion_bags_accessories", "pet_shop",
)  # fmt: skip
STATES = ("SP", "RJ", "MG", "RS", "PR", "SC", "BA", "DF", "ES", "GO")
_STATE_SHARES = (0.42, 0.13, 0.12, 0.055, 0.05, 0.037, 0.034, 0.022, 0.02, 0.112)
#: Shares of the 1-5 review scores as in the public e-commerce review table.
_SCORE_SHARES = (0.115, 0.032, 0.082, 0.193, 0.578)
COMMENTS = {
    "bad": [
        "I have not received the product yet",
        "the order arrived {late} days late",
        "product came damaged and nobody answers",
        "I received the wrong item",
        "only part of my order was delivered",
        "very bad, do not buy from this store",
        "still waiting for a refund",
    ],
    "mixed": [
        "the product is ok but delivery took a while",
        "arrived fine, the quality could be better",
        "reasonable for the price",
        "it works, the packaging was poor",
    ],
    "good": [
        "excellent product, arrived before the expected date",
        "great quality, I recommend it",
        "arrived on time and well packed",
        "very good, exactly as described",
        "fast delivery, thank you",
        "perfect, I will buy again",
    ],
}


def order_reviews(rows: int, seed: int = 0, drift: str | Mapping[str, float] | None = None) -> pd.DataFrame:
    """Orders with their review score (1-5) and, for some, the review's text: shaped like the
    public e-commerce orders-and-reviews tables.

    The score falls with a late or missing delivery and a high freight share, and the comment says
    why; most reviews (about 58%) have no comment, and low scores have one more often. Predicting
    the score is a regression (task=regression: its 5 values would otherwise be classes).
    """
    _no_drift(drift, "order_reviews")
    rng = np.random.default_rng(seed)
    price = np.round(np.exp(rng.normal(4.4, 0.9, rows)), 2)
    freight = np.round(np.clip(2.0 * price**0.45 + rng.normal(0, 4, rows), 0.0, None), 2)
    payment = rng.choice(PAYMENTS, rows, p=_PAYMENT_SHARES)
    installments = np.where(payment == "credit_card", np.minimum(rng.geometric(0.35, rows), 24), 1)
    estimated = rng.integers(7, 45, rows)
    delivered = rng.random(rows) > 0.03
    delivery = np.clip(np.round(estimated - rng.normal(11, 8, rows)), 1, None)
    delay = np.where(delivered, delivery - estimated, np.nan)
    latent = (
        1.0
        - 2.2 * np.clip(np.nan_to_num(delay, nan=0.0), 0, None) ** 0.5
        - 3.5 * ~delivered
        + 0.04 * np.clip(-np.nan_to_num(delay, nan=0.0), 0, 25)
        - 1.5 * freight / (price + freight)
        + rng.normal(0, 0.6, rows)
    )
    cuts = np.quantile(latent, np.cumsum(_SCORE_SHARES)[:-1])
    score = np.searchsorted(cuts, latent) + 1
    has_comment = rng.random(rows) < np.array([0.0, 0.78, 0.72, 0.55, 0.38, 0.33])[score]
    comments = np.full(rows, None, dtype=object)
    for row in np.flatnonzero(has_comment):
        tone = "bad" if score[row] <= 2 else "mixed" if score[row] == 3 else "good"
        if tone == "bad" and not delivered[row]:
            text = COMMENTS["bad"][0]
        else:
            options = COMMENTS[tone]
            text = options[rng.integers(len(options))]
        comments[row] = text.format(late=max(int(np.nan_to_num(delay[row])), 2)).capitalize()
    category = np.array(PRODUCT_CATEGORIES, dtype=object)[rng.integers(len(PRODUCT_CATEGORIES), size=rows)]
    category[rng.random(rows) < 0.015] = None
    return pd.DataFrame(
        {
            "order_id": [f"{a:016x}{b:016x}" for a, b in rng.integers(0, 2**63, (rows, 2)).tolist()],
            "customer_state": rng.choice(STATES, rows, p=_STATE_SHARES),
            "product_category": category,
            "price": price,
            "freight_value": freight,
            "payment_type": payment,
            "payment_installments": installments,
            "payment_value": np.round(price + freight, 2),
            "estimated_delivery_days": estimated,
            "delivery_days": np.where(delivered, delivery, np.nan),
            "delivery_delay_days": delay,
            "review_comment_message": comments,
            "review_score": score,
        }
    )


def _no_drift(drift: str | Mapping[str, float] | None, kind: str) -> None:
    if drift:
        drifting = " and ".join(k for k, allowed in DRIFTS.items() if allowed)
        raise BricksmlError(f"drift is made for {drifting} data; {kind} data takes none")


#: The seed problems' tables take no drift.
DRIFTS.update({"customer_segments": (), "campaign": (), "order_reviews": ()})


KINDS = {
    "sentiment": sentiment,
    "customers": customers,
    "customer_segments": customer_segments,
    "campaign": campaign,
    "order_reviews": order_reviews,
}
