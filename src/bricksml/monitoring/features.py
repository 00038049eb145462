"""Drift of each input column the model reads: the reference's profile, and a window against it.

Which column is numeric, categorical or text is what the fitted pipeline made of it (its column
transformer), so a column is judged the way the model uses it. Numeric columns: PSI over the
reference's deciles (the decision), with the Wasserstein distance in reference standard deviations
and the Kolmogorov-Smirnov D in the reason. Categorical: PSI over the reference's categories plus
one bin for unseen ones (the decision), the Jensen-Shannon distance in the reason, and the share of
rows with a category the reference lacks. Text: PSI of the length in tokens, and the rise in the
share of words the model's vocabulary does not know, with the terms that moved most. Every column:
the rise in its share of missing values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bricksml.monitoring import stats, text
from bricksml.monitoring.signals import Signal, Thresholds, signal

#: Categories of a column kept by name in its PSI; rarer ones share one bin.
TOP_CATEGORIES = 50
#: Values per side the Wasserstein distance and the KS statistic are computed on (both sort).
DISTANCE_SAMPLE = 200_000
NUMERIC, CATEGORICAL, TEXT = "numeric", "categorical", "text"
_OTHER = "(other)"


@dataclass(frozen=True)
class ColumnKinds:
    """The model's input columns by how it encodes them, and the vocabulary of each text column."""

    numeric: list[str]
    categorical: list[str]
    text: list[str]
    vocabularies: dict[str, text.Vocabulary] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return [*self.text, *self.numeric, *self.categorical]

    def kind(self, column: str) -> str:
        return TEXT if column in self.text else NUMERIC if column in self.numeric else CATEGORICAL


def column_kinds(
    model: Any, feature_columns: Sequence[str], reference: pd.DataFrame, text_col: str | None
) -> ColumnKinds:
    """What the fitted pipeline does with each column; from the data's types when it cannot say."""
    numeric: list[str] = []
    categorical: list[str] = []
    texts: list[str] = []
    vocabularies: dict[str, text.Vocabulary] = {}
    features = getattr(model, "named_steps", {}).get("features")
    for name, transformer, columns in getattr(features, "transformers_", []):
        if name == "remainder" or transformer in ("drop", "passthrough"):
            continue
        parts = _walk(transformer)
        names = [columns] if isinstance(columns, str) else list(columns)
        if any(type(p).__name__ == "TfidfVectorizer" for p in parts):
            word = next(
                (p for p in parts if type(p).__name__ == "TfidfVectorizer" and p.analyzer == "word"), None
            )
            for column in names:
                texts.append(column)
                vocabularies[column] = text.Vocabulary.of(word)
        elif any(type(p).__name__ == "OneHotEncoder" for p in parts):
            categorical.extend(names)
        else:
            numeric.extend(names)
    if not (numeric or categorical or texts):  # not a bricksml pipeline: judge by the data
        for column in feature_columns:
            values = reference[column]
            if column == text_col:
                texts.append(column)
                vocabularies[column] = text.Vocabulary.of(None)
            elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                numeric.append(column)
            else:
                categorical.append(column)
    return ColumnKinds(numeric, categorical, texts, vocabularies)


def _walk(estimator: Any) -> list[Any]:
    """An estimator and those inside it (pipeline steps, feature union parts)."""
    out = [estimator]
    for _, part in getattr(estimator, "steps", None) or getattr(estimator, "transformer_list", None) or []:
        out.extend(_walk(part))
    return out


# -- profiles of the reference ------------------------------------------------------------------


@dataclass(frozen=True)
class NumericProfile:
    values: np.ndarray  # the reference's finite values (a sample when large)
    edges: np.ndarray
    shares: np.ndarray
    missing: float


@dataclass(frozen=True)
class CategoricalProfile:
    categories: list[str]  # the reference's most frequent, by name in the PSI
    counts: np.ndarray  # their counts, then the count of the rest
    known: frozenset[str]  # every category the reference holds
    missing: float


@dataclass(frozen=True)
class TextProfile:
    sample: text.TextSample  # of the training split: lengths and terms
    heldout_oov: float | None  # out-of-vocabulary share on rows the vectorizer never saw
    edges: np.ndarray
    shares: np.ndarray
    missing: float


Profile = NumericProfile | CategoricalProfile | TextProfile


def profile(
    kinds: ColumnKinds, reference: pd.DataFrame, heldout: pd.DataFrame, seed: int = 0
) -> dict[str, Profile]:
    """The reference's profile of every column the model reads.

    ``heldout`` (rows the model was not fitted on) gives the out-of-vocabulary share: on its own
    training rows every word a vectorizer kept is known, which would make any new data look worse.
    """
    out: dict[str, Profile] = {}
    for column in kinds.numeric:
        values = _numbers(reference[column])
        finite = values[np.isfinite(values)]
        edges = stats.quantile_edges(finite)
        out[column] = NumericProfile(
            _sample(finite, seed), edges, stats.bin_shares(finite, edges), _missing(values)
        )
    for column in kinds.categorical:
        counts = _strings(reference[column]).value_counts()
        top = counts.iloc[:TOP_CATEGORIES]
        out[column] = CategoricalProfile(
            [str(c) for c in top.index],
            np.append(top.to_numpy(dtype=np.float64), float(counts.iloc[TOP_CATEGORIES:].sum())),
            frozenset(str(c) for c in counts.index),
            float(reference[column].isna().mean()) if len(reference) else 0.0,
        )
    for column in kinds.text:
        vocabulary = kinds.vocabularies[column]
        sample = text.TextSample.of(text.sample_texts(reference[column], seed), vocabulary)
        held = text.TextSample.of(text.sample_texts(heldout[column], seed), vocabulary)
        edges = stats.quantile_edges(sample.lengths)
        out[column] = TextProfile(
            sample,
            held.oov_share,
            edges,
            stats.bin_shares(sample.lengths, edges),
            text.blank_share(reference[column]),
        )
    return out


# -- a window against the profiles --------------------------------------------------------------


@dataclass
class FeatureDrift:
    """The signals of every column, and what the report draws for each."""

    signals: list[Signal]
    details: dict[str, dict[str, Any]]  # column -> what its plot needs


def compare(
    kinds: ColumnKinds,
    profiles: dict[str, Profile],
    current: pd.DataFrame,
    thresholds: Thresholds,
    seed: int = 0,
) -> FeatureDrift:
    """Every column of ``current`` the model reads, against the reference's profile of it."""
    drift = FeatureDrift([], {})
    for column in kinds.columns:
        found = profiles[column]
        if isinstance(found, NumericProfile):
            _numeric(drift, column, found, current[column], thresholds, seed)
        elif isinstance(found, CategoricalProfile):
            _categorical(drift, column, found, current[column], thresholds)
        else:
            _text(drift, column, found, kinds.vocabularies[column], current[column], thresholds, seed)
    return drift


def _numeric(
    drift: FeatureDrift,
    column: str,
    ref: NumericProfile,
    values: pd.Series,
    thresholds: Thresholds,
    seed: int,
) -> None:
    numbers = _numbers(values)
    finite = numbers[np.isfinite(numbers)]
    missing = _missing(numbers)
    if len(finite) and len(ref.values):
        shares = stats.bin_shares(finite, ref.edges)
        value = stats.psi(ref.shares, shares)
        cur = _sample(finite, seed + 1)
        distance = stats.wasserstein_in_std(ref.values, cur)
        ks = stats.ks_statistic(ref.values, cur)
        moved = float(np.median(finite)) - float(np.median(ref.values))
        reason = (
            f"{column}: PSI {value:.3f} over the reference's deciles; median moved {moved:+.4g}, "
            f"Wasserstein {distance:.3f} reference standard deviations, KS D {ks:.3f}"
        )
        drift.details[column] = {
            "kind": NUMERIC,
            "reference": ref.values,
            "current": cur,
            "psi": value,
        }
    else:
        value, reason = None, f"{column}: no value present in the window to compare"
    drift.signals.append(signal(column, "feature", "psi", value, thresholds.psi, reason))
    drift.signals.append(_missing_signal(column, ref.missing, missing, thresholds))


def _categorical(
    drift: FeatureDrift, column: str, ref: CategoricalProfile, values: pd.Series, thresholds: Thresholds
) -> None:
    strings = _strings(values)
    counts = strings.value_counts()
    present = {str(k): int(v) for k, v in counts.items()}
    named = {c: present.get(c, 0) for c in ref.categories}
    rest_known = sum(n for c, n in present.items() if c in ref.known and c not in named)
    unseen = sum(n for c, n in present.items() if c not in ref.known)
    total = max(sum(present.values()), 1)
    ref_shares = np.append(ref.counts / max(ref.counts.sum(), 1), 0.0)
    cur_shares = np.array([*named.values(), rest_known, unseen], dtype=np.float64) / total
    if present and ref.counts.sum():
        value = stats.psi(ref_shares, cur_shares)
        js = stats.jensen_shannon(ref_shares, cur_shares)
        labels = [*ref.categories, _OTHER]
        changes = sorted(
            zip(labels, ref_shares[:-1], cur_shares[:-1], strict=True), key=lambda t: -abs(t[2] - t[1])
        )[:3]
        moved = ", ".join(f"{name!s} {a:.0%} -> {b:.0%}" for name, a, b in changes)
        reason = f"{column}: PSI {value:.3f}, Jensen-Shannon {js:.3f}; largest moves: {moved}"
        drift.details[column] = {
            "kind": CATEGORICAL,
            "labels": [*labels, "(unseen)"],
            "reference": ref_shares,
            "current": cur_shares,
            "psi": value,
        }
    else:
        value, reason = None, f"{column}: no value present in the window to compare"
    drift.signals.append(signal(column, "feature", "psi", value, thresholds.psi, reason))
    new_share = unseen / total if present else None
    examples = [c for c, _ in sorted(present.items(), key=lambda t: -t[1]) if c not in ref.known][:3]
    new_reason = (
        f"{column}: {new_share:.1%} of rows hold categories the reference lacks"
        + (f" ({', '.join(map(repr, examples))})" if examples else "")
        if new_share is not None
        else f"{column}: no value present in the window"
    )
    drift.signals.append(
        signal(column, "feature", "new_category_share", new_share, thresholds.new_categories, new_reason)
    )
    missing = float(values.isna().mean()) if len(values) else 0.0
    drift.signals.append(_missing_signal(column, ref.missing, missing, thresholds))


def _text(
    drift: FeatureDrift,
    column: str,
    ref: TextProfile,
    vocabulary: text.Vocabulary,
    values: pd.Series,
    thresholds: Thresholds,
    seed: int,
) -> None:
    sample = text.TextSample.of(text.sample_texts(values, seed + 1), vocabulary)
    if sample.texts:
        value = stats.psi(ref.shares, stats.bin_shares(sample.lengths, ref.edges))
        reason = (
            f"{column}: PSI {value:.3f} of the length in tokens; median "
            f"{np.median(ref.sample.lengths):.0f} -> {np.median(sample.lengths):.0f} tokens"
        )
    else:
        value, reason = None, f"{column}: no text present in the window to compare"
    drift.signals.append(signal(column, "feature", "length_psi", value, thresholds.psi, reason))
    moved = text.moved_terms(ref.sample, sample)
    if sample.oov_share is not None and ref.heldout_oov is not None:
        rise = sample.oov_share - ref.heldout_oov
        listed = ", ".join(f"{t!r} {a:.1%} -> {b:.1%}" for t, a, b in moved[:5])
        oov_reason = (
            f"{column}: {sample.oov_share:.1%} of words are unknown to the model's vocabulary "
            f"(held-out reference {ref.heldout_oov:.1%}); terms that moved most: {listed}"
        )
        drift.signals.append(
            signal(column, "feature", "oov_share_increase", rise, thresholds.oov, oov_reason)
        )
    drift.details[column] = {
        "kind": TEXT,
        "reference": ref.sample.lengths,
        "current": sample.lengths,
        "terms": moved,
        "oov": (ref.heldout_oov, sample.oov_share),
    }
    drift.signals.append(_missing_signal(column, ref.missing, text.blank_share(values), thresholds))


def _missing_signal(column: str, reference: float, current: float, thresholds: Thresholds) -> Signal:
    rise = current - reference
    reason = f"{column}: {current:.1%} of values missing (reference {reference:.1%})"
    return signal(column, "feature", "missing_share_increase", rise, thresholds.missing, reason)


def _numbers(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _strings(values: pd.Series) -> pd.Series:
    return values.dropna().astype(str)


def _missing(values: np.ndarray) -> float:
    return float(np.isnan(values).mean()) if len(values) else 0.0


def _sample(values: np.ndarray, seed: int, limit: int = DISTANCE_SAMPLE) -> np.ndarray:
    if len(values) <= limit:
        return values
    return np.random.default_rng(seed).choice(values, size=limit, replace=False)
