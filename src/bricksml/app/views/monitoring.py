"""Monitoring: the monitor's latest decision for the model, its drifted features and its plots."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from bricksml.app import monitoring_view
from bricksml.app.model_card import ModelCard
from bricksml.app.session import Session

SIGNAL_COLUMNS = ("name", "metric", "value", "threshold_warning", "threshold_alert", "status", "reason")
BADGES = {"ok": st.success, "warning": st.warning, "alert": st.error}


def render(session: Session, card: ModelCard) -> None:
    st.header("Monitoring")
    output = session.settings.output_location(card.name, card.tag("data_name"), card.tag("data_version"))
    window = monitoring_view.latest(session.files, output, card.name)
    if window is None:
        st.info(
            f"The monitor has not run for {card.name} yet: no monitoring window under {output}. "
            "Run the monitoring job after the model has served or scored some rows."
        )
        return
    summary = window.summary
    span = summary.get("window") or {}
    model = summary.get("model") or {}
    BADGES.get(window.decision, st.info)(
        f"Decision: {window.decision.upper()} for v{model.get('model_version', '?')}, "
        f"window {span.get('since', '?')} to {span.get('until', '?')} ({span.get('rows', '?')} rows)"
    )
    for reason in summary.get("reasons") or []:
        st.markdown(f"- {reason}")
    drifted = summary.get("drifted_features") or []
    st.subheader("Drifted features")
    if drifted:
        signals = window.drifted_signals() or [{"name": name} for name in drifted]
        shown = [c for c in SIGNAL_COLUMNS if c in signals[0]]
        st.dataframe(pd.DataFrame(signals)[shown], hide_index=True)
    else:
        st.caption("No feature drifted in this window.")
    plots = window.plots()
    if plots:
        st.subheader("Plots")
        grid = st.columns(2)
        for index, (name, path) in enumerate(plots.items()):
            if not session.files.is_file(path):
                continue
            with grid[index % 2]:
                st.image(session.files.read_bytes(path), caption=name)
