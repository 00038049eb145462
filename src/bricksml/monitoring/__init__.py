"""Watching a model in use: drift and performance of a window of its predictions against a reference."""
