"""Synthetic but realistic data sets, deterministic by seed: what the demo and the tests use.

``sentiment``: financial-news-like sentences labelled positive / negative / neutral, with varied
wording, class imbalance, label noise, repeated sentences and a few conflicting repeats.
``customers``: a tabular customer table with numeric and categorical columns and a segment label.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def sentiment(rows: int, seed: int = 0) -> pd.DataFrame:
    """Financial-news-like sentences with the label ``Sentiment`` and the text ``Sentence``."""
    rng = np.random.default_rng(seed)
    label_idx = rng.choice(3, size=rows, p=[0.30, 0.15, 0.55])
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
    return frame


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


def customers(rows: int, seed: int = 0) -> pd.DataFrame:
    """Customers with numeric and categorical columns and ``customer_segment`` as the label."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows)
    income = np.round(rng.lognormal(10.6, 0.5, rows), 2)
    tenure = rng.integers(0, 120, rows)
    purchases = rng.poisson(8, rows)
    basket = np.round(rng.gamma(3.0, 25.0, rows), 2)
    gender = rng.choice(["female", "male", "other"], rows, p=[0.49, 0.48, 0.03])
    region = rng.choice(["north", "south", "east", "west"], rows)
    channel = rng.choice(["web", "store", "app"], rows, p=[0.5, 0.3, 0.2])
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
    return frame


KINDS = {"sentiment": sentiment, "customers": customers}
