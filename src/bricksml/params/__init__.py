"""The parameter contract of each job."""

from bricksml.params.base import Contract, param
from bricksml.params.create_data import CreateDataParams

__all__ = ["Contract", "CreateDataParams", "param"]
