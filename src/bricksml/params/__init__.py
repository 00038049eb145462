"""The parameter contract of each job."""

from bricksml.params.base import Contract, param
from bricksml.params.create_data import CreateDataParams
from bricksml.params.inference import InferenceParams
from bricksml.params.train import TrainParams

__all__ = ["Contract", "CreateDataParams", "InferenceParams", "TrainParams", "param"]
