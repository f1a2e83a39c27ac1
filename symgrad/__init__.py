"""symgrad: symbolic gradients of neural-network losses, in index notation, as NumPy code."""
from .derive import Derivation, derive
from .dsl import (apply, concat_cols, concat_rows, crelu, exp, log, logsumexp, ones, relu, sigmoid,
                  softplus, sum_squares, tanh)
from .errors import LoweringError, ModelError, ShapeError, SymgradError
from .model import Model, Tensor

__all__ = [
    "Derivation", "derive", "apply", "concat_cols", "concat_rows", "crelu", "exp", "log", "logsumexp", "ones",
    "relu", "sigmoid", "softplus", "sum_squares", "tanh", "LoweringError", "ModelError", "ShapeError",
    "SymgradError", "Model", "Tensor",
]
