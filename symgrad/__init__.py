"""symgrad: symbolic gradients of neural-network losses, in index notation, as NumPy code.

The pipeline, one subpackage per stage: ``model`` (build a model: DSL, index input, layers,
the function table, the catalogue) -> ``differentiate`` (the chain rule over named
intermediates) -> ``lower`` (index expressions to a typed array IR, printed) -> ``emit``
(the module plan, templates, file writing); beside it ``documents`` (derivations as
LaTeX/Markdown), ``formulas`` (reading hand-derived formulas and judging them) and
``gradcheck`` (finite differences). ``index`` is the index-notation representation every
stage shares; ``api`` the Python entry points; ``cli`` the command line.
"""
from symgrad.api import DerivedModel, derive, load_model
from symgrad.differentiate.chain_rule import Derivation
from symgrad.errors import LoweringError, ModelError, ShapeError, SymgradError, SymgradWarning
from symgrad.model import catalogue
from symgrad.model.dsl import (abs, apply, concat_cols, concat_rows, crelu, exp, log, log_softmax, logsumexp,
                               maximum, mean, minimum, ones, relu, sigmoid, softmax, softplus, sqrt,
                               sum_squares, tanh)
from symgrad.model.extrema import amax, amin
from symgrad.model.layers import stack_layers
from symgrad.model.linalg import det, inv, logdet
from symgrad.model.matrix_ops import diagonal, trace
from symgrad.model.model import Model, Tensor
from symgrad.model.unroll import unroll

__all__ = [
    "DerivedModel", "derive", "load_model", "Derivation", "catalogue",
    "apply", "concat_cols", "concat_rows", "crelu", "exp", "log", "logsumexp", "ones", "relu", "sigmoid",
    "softplus", "sum_squares", "tanh", "sqrt", "abs", "maximum", "minimum", "mean", "softmax", "log_softmax",
    "LoweringError", "ModelError", "ShapeError", "SymgradError", "SymgradWarning",
    "amax", "amin", "trace", "diagonal", "inv", "det", "logdet",
    "Model", "Tensor", "stack_layers", "unroll",
]
