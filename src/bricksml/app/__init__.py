"""The app for the people who use the model: predict one, score a file, see versions and monitoring.

``main.py`` is the Streamlit script; Databricks Apps run it as the bundle declares it
(``resources/bricksml.app.yml``) and ``bricksml app`` runs it against the local mirror. The other
modules hold what the pages show, without Streamlit, so each can be read and tested on its own.
"""
