"""The parameter contract of each job.

The contracts load on first use: the train contract checks model parameters against scikit-learn,
so importing it pulls in scikit-learn and SciPy, which create_data does not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bricksml.params.base import Contract, param
from bricksml.params.create_data import CreateDataParams

if TYPE_CHECKING:
    from bricksml.params.inference import InferenceParams
    from bricksml.params.train import TrainParams

__all__ = ["Contract", "CreateDataParams", "InferenceParams", "TrainParams", "param"]

_LAZY = {"InferenceParams": "bricksml.params.inference", "TrainParams": "bricksml.params.train"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
