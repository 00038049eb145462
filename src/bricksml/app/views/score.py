"""Score a file: a CSV or Parquet upload, scored in chunks, its first rows shown, the whole downloadable."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from bricksml.app import scoring
from bricksml.app.model_card import ModelCard
from bricksml.app.session import Session

SCORED = "score.result"
SHOWN_ROWS = 20


def render(session: Session, card: ModelCard) -> None:
    st.header("Score a file")
    columns = ", ".join(card.columns)
    upload = st.file_uploader(f"A CSV or Parquet file with the model's columns ({columns})")
    if upload is None:
        st.caption("Every row is scored; other columns are kept beside the predictions.")
        return
    key = (card.name, card.version, upload.file_id)
    kept = st.session_state.get(SCORED)
    if not kept or kept[0] != key:
        bar = st.progress(0.0, text=f"scoring {upload.name}")
        try:
            with scoring.uploaded(upload.name, upload.getvalue()) as path:
                result = scoring.score_file(
                    path, card, session.predictor(card), lambda share, text: bar.progress(share, text)
                )
        finally:
            bar.empty()
        kept = (key, result, scoring.to_csv(result.frame))
        st.session_state[SCORED] = kept
    _, result, data = kept
    st.success(f"{len(result.frame)} rows of {upload.name} scored by {result.served_by}")
    st.dataframe(result.frame.head(SHOWN_ROWS), hide_index=True)
    st.download_button(
        "Download the predictions (CSV)",
        data=data,
        file_name=f"{Path(upload.name).stem}_predictions.csv",
        mime="text/csv",
        on_click="ignore",  # a download needs no rerun
    )
