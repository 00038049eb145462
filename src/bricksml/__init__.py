"""bricksml: Databricks Asset Bundle jobs for supervised models that also run on one laptop."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bricksml")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
