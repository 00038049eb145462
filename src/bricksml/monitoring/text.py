"""Text columns seen as the model sees them: its own tokens, its own vocabulary.

The tokens come from the model's fitted TF-IDF vectorizer (its lowercasing, accent stripping and
token pattern), so "a word the model does not know" means what it means to the model. Text
statistics are computed on a sample of at most :data:`SAMPLE_ROWS` texts per side: the shares they
estimate are then within a fraction of a percentage point, and tokenizing a million texts in
Python would cost more than the rest of the window together.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Texts per side the text statistics are computed on.
SAMPLE_ROWS = 20_000
#: Terms listed as those whose frequency moved most.
MOVED_TERMS = 10
_FALLBACK_PATTERN = re.compile(r"(?u)\b\w\w+\b")


@dataclass(frozen=True)
class Vocabulary:
    """How the model splits a text into words, and the words it knows (its unigrams)."""

    tokenize: Callable[[str], list[str]]
    words: frozenset[str] | None  # None: the model has no word vocabulary to compare with

    @classmethod
    def of(cls, vectorizer: object | None) -> Vocabulary:
        """The vocabulary of a fitted word-level ``TfidfVectorizer`` (or a plain word split)."""
        if vectorizer is None:
            return cls(lambda text: _FALLBACK_PATTERN.findall(text.lower()), None)
        preprocess = vectorizer.build_preprocessor()
        split = vectorizer.build_tokenizer()
        # A stored model keeps its terms in ``vocabulary`` (an array); scikit-learn rebuilds
        # ``vocabulary_`` from it on first use.
        terms = getattr(vectorizer, "vocabulary_", None)
        if terms is None:
            terms = vectorizer.vocabulary
        words = frozenset(str(term) for term in terms if " " not in str(term))
        return cls(lambda text: split(preprocess(text)), words)


@dataclass(frozen=True)
class TextSample:
    """What the text statistics need from one side: lengths, word counts, out-of-vocabulary share."""

    texts: int
    lengths: np.ndarray  # tokens per text
    document_share: dict[str, float]  # share of texts holding each term
    oov_share: float | None  # share of tokens not in the model's vocabulary

    @classmethod
    def of(cls, texts: Iterable[str], vocabulary: Vocabulary) -> TextSample:
        lengths, documents, tokens, unknown = [], Counter(), 0, 0
        words = vocabulary.words
        count = 0
        for text in texts:
            found = vocabulary.tokenize(text)
            lengths.append(len(found))
            documents.update(set(found))
            tokens += len(found)
            if words is not None:
                unknown += sum(1 for token in found if token not in words)
            count += 1
        share = {term: n / max(count, 1) for term, n in documents.items()}
        oov = None if words is None or tokens == 0 else unknown / tokens
        return cls(count, np.asarray(lengths, dtype=np.float64), share, oov)


def sample_texts(values: pd.Series, seed: int, limit: int = SAMPLE_ROWS) -> list[str]:
    """Up to ``limit`` present, non-blank texts drawn without replacement (the same for a seed).

    The rows are drawn first and the blank ones dropped from the draw: the string operations then
    touch ``limit`` texts, not the whole window.
    """
    present = values.dropna()
    if len(present) > limit:
        rows = np.sort(np.random.default_rng(seed).choice(len(present), size=limit, replace=False))
        present = present.iloc[rows]
    texts = present.astype(str)
    return texts[texts.str.strip() != ""].tolist()


def blank_share(values: pd.Series) -> float:
    """Share of texts that are missing or hold only white space (the model sees empty text)."""
    if len(values) == 0:
        return 0.0
    blank = values.isna() | (values.astype("string").str.strip() == "")
    return float(blank.fillna(True).mean())


def moved_terms(
    reference: TextSample, current: TextSample, limit: int = MOVED_TERMS
) -> list[tuple[str, float, float]]:
    """The terms whose share of texts rose most, then those that fell most (half of ``limit`` each):
    ``(term, reference share, current share)``. New words rise; the words they replace fall."""
    terms = set(reference.document_share) | set(current.document_share)
    moved = [(t, reference.document_share.get(t, 0.0), current.document_share.get(t, 0.0)) for t in terms]
    rose = sorted((m for m in moved if m[2] > m[1]), key=lambda m: (m[1] - m[2], m[0]))
    fell = sorted((m for m in moved if m[2] < m[1]), key=lambda m: (m[2] - m[1], m[0]))
    half = limit // 2
    picked = rose[: max(half, limit - len(fell[:half]))]
    return picked + fell[: limit - len(picked)]
