"""The Streamlit script: the sidebar picks the model and the page; every mistake is a message.

Run by ``bricksml app`` locally and by Databricks Apps (``resources/bricksml.app.yml``) as it is.
"""

from __future__ import annotations

import logging

import streamlit as st

from bricksml.app import model_card
from bricksml.app.session import Session
from bricksml.app.settings import AppSettings
from bricksml.app.views import models, monitoring, predict, score
from bricksml.errors import BricksmlError, first_line
from bricksml.tracking import setup

PAGES = {"Predict": predict, "Score a file": score, "Models": models, "Monitoring": monitoring}
log = logging.getLogger("bricksml.app")


def _model_name(settings: AppSettings) -> str:
    """The configured model, or one the user picks among those registered."""
    names = model_card.registered_models()
    if settings.model_name:
        if settings.model_name not in names:
            return settings.model_name  # the pages say it is not registered
        names = [settings.model_name, *(n for n in names if n != settings.model_name)]
    if not names:
        return ""
    return st.sidebar.selectbox("Model", names)


def _page() -> str:
    """The page picked in the sidebar, kept in the address (``?page=Models``) so it can be linked."""
    names = list(PAGES)
    if "page" not in st.session_state:
        asked = st.query_params.get("page", names[0])
        st.session_state["page"] = asked if asked in names else names[0]
    page = st.sidebar.radio("Page", names, key="page")
    st.query_params["page"] = page
    return page


def main() -> None:
    st.set_page_config(page_title="bricksml", layout="wide")
    st.sidebar.title("bricksml")
    page = _page()
    try:
        settings = AppSettings.from_env()
        setup.configure()
        session = Session(settings, _model_name(settings))
        card = model_card.describe(session.model_name, settings.model_alias)
        PAGES[page].render(session, card)
    except BricksmlError as exc:
        st.error(first_line(exc))
    except Exception as exc:  # a bug: one line here, the traceback in the app's log
        log.exception("the %s page failed", page)
        what = f"{type(exc).__name__}: {first_line(exc, limit=200)}"
        st.error(f"Internal error in the app ({what}); the traceback is in the app's log.")


main()
