"""Models: the registered versions with their aliases, gate decisions, scores and lineage."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from bricksml.app import versions
from bricksml.app.model_card import ModelCard
from bricksml.app.predictors import served_version
from bricksml.app.session import Session
from bricksml.tracking.registry import CHAMPION


def render(session: Session, card: ModelCard) -> None:
    st.header(f"Models: {card.name}")
    settings = session.settings
    if settings.uses_endpoint:
        serving = served_version(settings)
        where = settings.serving_url or "this workspace"
        if serving:
            st.info(f"Serving endpoint {settings.serving_endpoint} ({where}) serves v{serving}.")
        else:
            st.warning(f"Serving endpoint {settings.serving_endpoint} ({where}) does not say what it serves.")
    else:
        st.info(
            f"No serving endpoint configured: the app loads @{settings.model_alias} (v{card.version}) itself."
        )
    rows = versions.rows(card.name)
    st.dataframe(pd.DataFrame([r.as_record() for r in rows]), hide_index=True)
    for row in rows:
        label = f"v{row.version}" + (f" ({', '.join('@' + a for a in row.aliases)})" if row.aliases else "")
        with st.expander(f"{label}: gate {row.gate_decision}"):
            if row.gate_reason:
                st.write(row.gate_reason)
            st.markdown(
                f"- data version: `{row.data}`\n- commit: `{row.commit or 'unknown'}`\n"
                f"- model type: `{row.model_type}`\n- training run: `{row.run_id}`\n"
                f"- registered: {row.created}"
            )
    champion = next((r for r in rows if CHAMPION in r.aliases), None)
    if champion is None:
        st.caption("No version is @champion yet.")
        return
    images = versions.plots(champion.run_id)
    st.subheader(f"Plots of the champion (v{champion.version})")
    if not images:
        st.caption("Its training run logged no plots.")
        return
    grid = st.columns(3)
    for index, (name, data) in enumerate(images.items()):
        with grid[index % 3]:
            st.image(data, caption=name.removesuffix(".png").replace("_", " "))
