"""symgrad: symbolic gradients of neural-network losses, in index notation, as NumPy code."""
from .api import DerivedModel, derive, load_model
from .derive import Derivation
from .dsl import (abs, apply, concat_cols, concat_rows, crelu, exp, log, log_softmax, logsumexp, maximum,
                  mean, minimum, ones, relu, sigmoid, softmax, softplus, sqrt, sum_squares, tanh)
from .extrema import amax, amin
from .linalg import det, inv, logdet
from .matrix_ops import diagonal, trace
from .errors import LoweringError, ModelError, ShapeError, SymgradError, SymgradWarning
from .model import Model, Tensor
from .unroll import unroll

__all__ = [
    "DerivedModel", "derive", "load_model", "Derivation", "apply", "concat_cols", "concat_rows", "crelu", "exp", "log", "logsumexp", "ones",
    "relu", "sigmoid", "softplus", "sum_squares", "tanh", "sqrt", "abs", "maximum", "minimum", "mean",
    "softmax", "log_softmax", "trace", "diagonal", "amax", "amin", "inv", "det", "logdet",
    "LoweringError", "ModelError", "ShapeError",
    "SymgradError", "SymgradWarning", "Model", "Tensor", "unroll",
]
