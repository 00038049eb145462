"""The parameter contract of each job.

Importing a contract is cheap (no pandas, no scikit-learn): the CLI builds its flags from them
before it knows whether the command will run at all.
"""

from bricksml.params.base import Contract, param
from bricksml.params.create_data import CreateDataParams
from bricksml.params.inference import InferenceParams
from bricksml.params.train import TrainParams

__all__ = ["Contract", "CreateDataParams", "InferenceParams", "TrainParams", "param"]
