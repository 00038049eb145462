"""The ``bricksml`` command line."""
