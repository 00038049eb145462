"""Feature engineering as one ColumnTransformer from the raw input columns.

Text: missing text becomes empty text, then word TF-IDF (and optionally character n-grams), all
inside scikit-learn so that serving sees exactly what training saw. Tabular: numeric columns are
imputed and scaled, the others imputed and one-hot encoded. A data version with a text column and
other feature columns gets both, side by side in one transformer. Which column is which comes from
the data (the manifest's text column and the training split's dtypes) and ``feature_params`` can
override every choice. Only scikit-learn and NumPy objects are used, so the model can be stored in
the safe ``skops`` format and loaded without any bricksml code.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, OneHotEncoder, StandardScaler

from bricksml.errors import FeatureParamError
from bricksml.models.types import ModelType

# Words, numbers with their decimals or percent sign, and $TICKER symbols: the tokens that carry
# sentiment in financial text. The default sklearn pattern drops "$" and splits "5.2%".
TOKEN_PATTERN = r"(?u)\$?[A-Za-z][\w'-]*|\d+(?:[.,]\d+)*%?"

TEXT_DEFAULTS: dict[str, Any] = {
    "ngram_range": [1, 2],
    "max_features": 50000,
    "min_df": 2,  # a term seen once cannot generalise; dropping them shrinks the model ~3x
    "max_df": 1.0,
    "sublinear_tf": True,
    "lowercase": True,
    "strip_accents": "unicode",
    "stop_words": None,
    "token_pattern": TOKEN_PATTERN,
    "char_ngrams": None,  # e.g. [2, 5] adds character n-grams within word boundaries
    "char_max_features": 50000,
    "svd_components": 300,  # only for dense model types (gradient_boosting)
}
TABULAR_DEFAULTS: dict[str, Any] = {
    "numeric_columns": None,  # None: chosen from the dtypes
    "categorical_columns": None,
    "drop_columns": [],
    "scaling": None,  # "standard" | "minmax" | "none"; None: standard, minmax for naive_bayes
    "numeric_impute": "median",
    "max_categories": 50,
    "min_frequency": None,
}
FEATURE_PARAM_NAMES = tuple(TEXT_DEFAULTS) + tuple(TABULAR_DEFAULTS)
#: Largest values of the size parameters: beyond them a run exhausts memory rather than failing.
LIMITS = {
    "max_features": 5_000_000,
    "char_max_features": 5_000_000,
    "svd_components": 5000,
    "max_categories": 100_000,
}
MAX_NGRAM = 10
#: A token pattern must tokenize these probes within this many seconds, in a child process (Python's
#: regular expressions cannot be interrupted): nested repeats such as ``(x+x+)+y`` take hours.
PATTERN_SECONDS = 3.0


def split_columns(
    frame: pd.DataFrame, feature_columns: Sequence[str], text_col: str | None, params: Mapping[str, Any]
) -> dict[str, list[str]]:
    """Which raw columns are text, numeric and categorical.

    The text column (when there is one) is text; every other feature column is numeric or
    categorical, by its type in ``frame`` unless ``numeric_columns`` / ``categorical_columns`` say.
    """
    columns = [c for c in feature_columns if c not in set(params["drop_columns"])]
    missing = [c for c in columns if c not in frame.columns]
    for key in ("numeric_columns", "categorical_columns", "drop_columns"):
        named = params[key] or []
        unknown = [c for c in named if c not in feature_columns]
        if unknown:
            raise FeatureParamError(
                f"{key}: {unknown[0]!r} is not a feature column; they are {list(feature_columns)}"
            )
        if text_col and key != "drop_columns" and text_col in named:
            raise FeatureParamError(f"{key}: {text_col!r} is the text column (TF-IDF); name other columns")
    if missing:
        raise FeatureParamError(f"feature column {missing[0]!r} is not in the data")
    text = [text_col] if text_col and text_col in columns else []
    columns = [c for c in columns if c != text_col]
    numeric = params["numeric_columns"]
    categorical = params["categorical_columns"]
    if numeric is None:
        numeric = [
            c
            for c in columns
            if c not in (categorical or [])
            and pd.api.types.is_numeric_dtype(frame[c])
            and not pd.api.types.is_bool_dtype(frame[c])
        ]
    else:
        for column in numeric:
            if not pd.api.types.is_numeric_dtype(frame[column]) or pd.api.types.is_bool_dtype(frame[column]):
                raise FeatureParamError(
                    f"numeric_columns: {column!r} is not numeric (it holds {frame[column].dtype}); "
                    "list it in categorical_columns instead"
                )
    if categorical is None:
        categorical = [c for c in columns if c not in numeric]
    return {"text": text, "numeric": list(numeric), "categorical": list(categorical)}


def check_limits(params: Mapping[str, Any]) -> None:
    """Size parameters within their ceilings, n-gram lengths at most :data:`MAX_NGRAM`."""
    for name, limit in LIMITS.items():
        value = params.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > limit:
            raise FeatureParamError(f"{name} is at most {limit:,} (got {value:,})")
    for name in ("ngram_range", "char_ngrams"):
        value = params.get(name)
        if value and max(value) > MAX_NGRAM:
            raise FeatureParamError(f"{name} goes up to at most {MAX_NGRAM} (got {list(value)})")


def check_token_pattern(pattern: Any) -> None:
    """A pattern that compiles, and tokenizes worst-case probes of its own letters in time.

    The probes repeat each literal character of the pattern (and a letter, a digit and a space)
    and end with a character that spoils the match: what makes nested repeats backtrack for ever.
    """
    if not isinstance(pattern, str):
        raise FeatureParamError(f"token_pattern must be a regular expression string, got {pattern!r}")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise FeatureParamError(
            f"token_pattern {pattern!r} is not a valid regular expression: {exc}"
        ) from None
    literals = sorted({c for c in pattern if c.isalnum() or c in " _-'."} | {"a", "1", " "})
    probes = [c * 30 + "\x00!" for c in literals]
    code = f"import re, sys\np = re.compile(sys.argv[1])\nfor probe in {probes!r}:\n    p.findall(probe)\n"
    try:
        subprocess.run(
            [sys.executable, "-c", code, pattern], timeout=PATTERN_SECONDS, check=True, capture_output=True
        )
    except subprocess.TimeoutExpired:
        raise FeatureParamError(
            f"token_pattern {pattern!r} backtracks catastrophically (a repeat inside a repeat takes over "
            f"{PATTERN_SECONDS:g}s on a 30-character word); simplify it"
        ) from None
    except subprocess.CalledProcessError as exc:
        raise FeatureParamError(
            f"token_pattern {pattern!r} cannot be used: {exc.stderr.decode()[-200:]}"
        ) from None


def check_document_frequencies(params: Mapping[str, Any], documents: int) -> None:
    """min_df and max_df as TfidfVectorizer applies them to this many training texts."""

    def count(value: float | int) -> float:
        return value if isinstance(value, int) and not isinstance(value, bool) else value * documents

    low, high = count(params["min_df"]), count(params["max_df"])
    if low > documents:
        raise FeatureParamError(
            f"min_df {params['min_df']!r} asks for terms in more texts than the train split's {documents}"
        )
    if high < low:
        raise FeatureParamError(
            f"max_df {params['max_df']!r} keeps terms in at most {high:g} texts, fewer than min_df "
            f"{params['min_df']!r} asks for ({low:g} of {documents}); raise max_df or lower min_df"
        )


def check_applicable(
    feature_params: Mapping[str, Any], text_col: str | None, feature_columns: Sequence[str] | None = None
) -> None:
    """Refuse options that cannot act on this data, which would otherwise be ignored in silence.

    Text options on a tabular data set, column options on a text data set whose one feature is
    the text: the user would believe they changed the model. A text data set with other feature
    columns (``feature_columns``) takes both.
    """
    others = [c for c in feature_columns or () if c != text_col]
    if text_col and others:
        return
    foreign = TABULAR_DEFAULTS if text_col else TEXT_DEFAULTS
    given = [name for name in feature_params if name in foreign]
    if given:
        kind = (
            f"a text data set (text_col {text_col!r} is its only feature)"
            if text_col
            else "a tabular data set (no text_col)"
        )
        raise FeatureParamError(f"{given[0]!r} does not apply to {kind}; remove it")


#: Beyond this a value's square overflows a float: scaling the column would give inf or NaN.
LARGEST_VALUE = 1e154


def value_problem(frame: pd.DataFrame, feature_columns: Sequence[str], text_col: str | None) -> str | None:
    """What in these columns no feature can be made of, said as the fix, or None.

    A text column must hold text (numbers or lists belong to a tabular data set); numeric columns
    must be finite and small enough to scale; dates are not encoded.
    """
    for column in feature_columns:
        if column not in frame.columns:
            continue
        values = frame[column]
        if column == text_col:
            kind = pd.api.types.infer_dtype(values, skipna=True)
            if kind not in ("string", "empty"):
                return (
                    f"text_col {column!r} holds {kind} values, not text: make it a tabular data set "
                    "(create_data without text_col) or convert the values to text"
                )
        elif pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_timedelta64_dtype(values):
            return (
                f"column {column!r} holds dates or durations ({values.dtype}), which are not encoded: "
                "derive numbers from it in the raw data or drop it with feature_params "
                f'{{"drop_columns": ["{column}"]}}'
            )
        elif pd.api.types.is_float_dtype(values):
            array = values.to_numpy(dtype=np.float64, na_value=np.nan)
            bad = ~np.isfinite(array) & ~np.isnan(array)
            if bad.any():
                return (
                    f"column {column!r} holds {_count(int(bad.sum()), 'infinite value')} (the first at row "
                    f"{int(np.argmax(bad))}): replace them with numbers, or leave them empty to be imputed"
                )
            huge = np.abs(np.nan_to_num(array)) >= LARGEST_VALUE
            if huge.any():
                return (
                    f"column {column!r} holds {_count(int(huge.sum()), 'value')} of {LARGEST_VALUE:g} or more"
                    f" (e.g. {array[np.argmax(huge)]:g}), too large to scale: rescale the column"
                )
    return None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def resolve_params(feature_params: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults with the user's feature parameters applied; unknown names are refused."""
    unknown = sorted(set(feature_params) - set(FEATURE_PARAM_NAMES))
    if unknown:
        raise FeatureParamError(
            f"unknown feature parameter {unknown[0]!r}; valid: {', '.join(FEATURE_PARAM_NAMES)}"
        )
    return {**TEXT_DEFAULTS, **TABULAR_DEFAULTS, **feature_params}


def build_features(
    columns: Mapping[str, list[str]], params: Mapping[str, Any], model: ModelType, seed: int
) -> ColumnTransformer:
    """The ColumnTransformer for these columns and this model type."""
    transformers: list[tuple[str, Any, Any]] = []
    for text_col in columns["text"]:
        transformers.append(("text", _text_pipeline(params, model, seed), [text_col]))
    if columns["numeric"]:
        transformers.append(("numeric", _numeric_pipeline(params, model), columns["numeric"]))
    if columns["categorical"]:
        transformers.append(("categorical", _categorical_pipeline(params, model), columns["categorical"]))
    if not transformers:
        raise FeatureParamError("no feature column is left to train on")
    sparse_threshold = 0.0 if model.dense else 0.3
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=sparse_threshold)


def _text_pipeline(params: Mapping[str, Any], model: ModelType, seed: int) -> Pipeline:
    word = TfidfVectorizer(
        ngram_range=_pair(params["ngram_range"], "ngram_range"),
        max_features=params["max_features"],
        min_df=params["min_df"],
        max_df=params["max_df"],
        sublinear_tf=params["sublinear_tf"],
        lowercase=params["lowercase"],
        strip_accents=params["strip_accents"],
        stop_words=params["stop_words"],
        token_pattern=params["token_pattern"],
        dtype=np.float32,
    )
    vectorizer: Any = word
    if params["char_ngrams"]:
        char = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=_pair(params["char_ngrams"], "char_ngrams"),
            max_features=params["char_max_features"],
            min_df=params["min_df"],
            sublinear_tf=params["sublinear_tf"],
            lowercase=params["lowercase"],
            strip_accents=params["strip_accents"],
            dtype=np.float32,
        )
        vectorizer = FeatureUnion([("words", word), ("chars", char)])
    steps: list[tuple[str, Any]] = [
        # A 2-D column in, missing values as "", a 1-D array of strings out for the vectorizer.
        ("fill", SimpleImputer(strategy="constant", fill_value="", keep_empty_features=True)),
        ("flatten", FunctionTransformer(np.ravel, feature_names_out="one-to-one")),
        ("tfidf", vectorizer),
    ]
    if model.dense:
        steps.append(("svd", TruncatedSVD(n_components=params["svd_components"], random_state=seed)))
    return Pipeline(steps)


def _numeric_pipeline(params: Mapping[str, Any], model: ModelType) -> Pipeline:
    scaling = params["scaling"] or ("minmax" if model.nonnegative else "standard")
    if scaling not in ("standard", "minmax", "none"):
        raise FeatureParamError(f"scaling must be standard, minmax or none, got {scaling!r}")
    if model.nonnegative and scaling != "minmax":
        raise FeatureParamError(f"scaling {scaling!r} gives negative values; {model.name} needs 'minmax'")
    steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy=params["numeric_impute"]))]
    if scaling == "standard":
        steps.append(("scale", StandardScaler()))
    elif scaling == "minmax":
        steps.append(("scale", MinMaxScaler(clip=True)))
    return Pipeline(steps)


def _categorical_pipeline(params: Mapping[str, Any], model: ModelType) -> Pipeline:
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            (
                "onehot",
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist",
                    max_categories=params["max_categories"],
                    min_frequency=params["min_frequency"],
                    sparse_output=not model.dense,
                ),
            ),
        ]
    )


def _pair(value: Any, name: str) -> tuple[int, int]:
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        low, high = value
        if 1 <= low <= high:
            return (low, high)
    raise FeatureParamError(
        f"{name} must be two whole numbers [low, high] with 1 <= low <= high, got {value!r}"
    )
