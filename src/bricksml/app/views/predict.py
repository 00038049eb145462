"""Predict: one input typed in (a sentence, or a form from the model's signature), and its answer."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import streamlit as st

from bricksml.app import explanations, training_stats
from bricksml.app.model_card import ModelCard
from bricksml.app.predictors import PREDICTION, Answer
from bricksml.app.session import Session
from bricksml.errors import BricksmlError, DataError, first_line

ANSWER = "predict.answer"
EXAMPLE = "e.g. Operating profit rose to EUR 13.1 mn from EUR 8.7 mn in the same quarter a year ago."


def render(session: Session, card: ModelCard) -> None:
    st.header("Predict")
    st.caption(f"Model {card.name} v{card.version} (@{session.settings.model_alias})")
    stats = session.stats(card) if not _only_text(card) else None
    with st.form("predict"):
        values = _inputs(card, stats)
        submitted = st.form_submit_button("Predict", type="primary")
    if stats is None and not _only_text(card):
        st.caption("No training statistics found for this version's data: no ranges or categories to offer.")
    elif stats is not None:
        st.caption(f"Ranges and categories as seen in training ({stats.source}).")
    if submitted:
        row = _row(card, values)
        answer = session.predictor(card).predict(row)
        st.session_state[ANSWER] = (card.name, card.version, row, answer)
    kept = st.session_state.get(ANSWER)
    if kept and kept[:2] == (card.name, card.version):
        _show(session, card, kept[2], kept[3])


def _only_text(card: ModelCard) -> bool:
    return bool(card.text_col) and list(card.columns) == [card.text_col]


def _inputs(card: ModelCard, stats: training_stats.TrainingStats | None) -> dict[str, Any]:
    """One input per signature column: the text as a text box, numbers and categories as a form."""
    values: dict[str, Any] = {}
    if card.text_col:
        values[card.text_col] = st.text_area(card.text_col, placeholder=EXAMPLE, height=120)
    others = [c for c in card.columns if c != card.text_col]
    grid = st.columns(3) if others else []
    for index, name in enumerate(others):
        type_ = card.columns[name]
        with grid[index % 3]:
            values[name] = _input(name, type_, stats)
    return values


def _input(name: str, type_: pa.DataType | None, stats: training_stats.TrainingStats | None) -> Any:
    numbers = stats.numbers if stats else {}
    categories = stats.categories if stats else {}
    if type_ is not None and pa.types.is_boolean(type_):
        return st.checkbox(name)
    if training_stats.is_number(type_):
        seen = numbers.get(name)
        if seen is None:
            return st.number_input(name, value=None, placeholder="a number")
        hint = f"In training: {seen.low:g} to {seen.high:g} (median {seen.median:g})"
        return st.number_input(name, value=seen.median, help=hint, format="%g")
    if name in categories:
        options = categories[name]
        return st.selectbox(name, options, help=f"The {len(options)} values seen in training")
    return st.text_input(name)


def _row(card: ModelCard, values: dict[str, Any]) -> pd.DataFrame:
    """The input as a one-row frame of the signature's types; an empty text is refused."""
    if card.text_col and not str(values.get(card.text_col) or "").strip():
        raise DataError(f"the {card.text_col} is empty: type a sentence to predict its label")
    columns = {}
    for name, type_ in card.columns.items():
        value = values.get(name)
        if isinstance(value, str) and not value.strip() and name != card.text_col:
            value = None
        columns[name] = pa.array([value], type=type_) if type_ is not None else pa.array([value])
    return pa.table(columns).to_pandas()


def _show(session: Session, card: ModelCard, row: pd.DataFrame, answer: Answer) -> None:
    predicted = answer.frame[PREDICTION].iloc[0]
    st.subheader("Answer")
    left, right = st.columns(2, gap="large")
    with left:
        if card.regression:
            st.metric("Prediction", f"{float(predicted):,.4g}")
            error = card.typical_error()
            if error:
                what, value = error
                st.caption(f"Typical error: ± {value:,.4g} ({what}, when this version was trained)")
        else:
            st.metric("Prediction", str(predicted))
            _probabilities(answer)
        st.caption(f"Answered by {answer.served_by}")
    with right:
        try:
            pipeline = session.version_pipeline(card, answer.version)
        except BricksmlError as exc:  # the answer stands; only its explanation is missing
            st.caption(f"What drove it cannot be shown: {first_line(exc)}")
            return
        found = explanations.drivers(pipeline, row, None if card.regression else str(predicted))
        if found is None:
            st.caption("This model type cannot tell which features drove the answer.")
            return
        st.markdown(f"**{found.title}**")
        drivers = pd.DataFrame(found.features, columns=["feature", found.kind])
        height = 60 + 30 * len(drivers)
        st.bar_chart(drivers, x="feature", y=found.kind, horizontal=True, sort=False, height=height)


def _probabilities(answer: Answer) -> None:
    classes = answer.classes
    if not classes:
        st.caption("The endpoint answers with the class only (no probabilities).")
        return
    values = [float(answer.frame[f"probability_{c}"].iloc[0]) for c in classes]
    chart = pd.DataFrame({"class": classes, "probability": values})
    height = 80 + 36 * len(classes)
    st.bar_chart(chart, x="class", y="probability", horizontal=True, sort="-probability", height=height)
