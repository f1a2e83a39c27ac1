"""symgrad: symbolic gradients of neural-network losses, in index notation, as NumPy code."""
from .api import DerivedModel, derive, load_model
from .derive import Derivation
from .dsl import (apply, concat_cols, concat_rows, crelu, exp, log, logsumexp, ones, relu, sigmoid,
                  softplus, sum_squares, tanh)
from .errors import LoweringError, ModelError, ShapeError, SymgradError, SymgradWarning
from .model import Model, Tensor

__all__ = [
    "DerivedModel", "derive", "load_model", "Derivation", "apply", "concat_cols", "concat_rows", "crelu", "exp", "log", "logsumexp", "ones",
    "relu", "sigmoid", "softplus", "sum_squares", "tanh", "LoweringError", "ModelError", "ShapeError",
    "SymgradError", "SymgradWarning", "Model", "Tensor",
]
