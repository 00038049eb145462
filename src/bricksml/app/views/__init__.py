"""The app's pages: each renders one thing with Streamlit and leaves the work to the modules above."""
