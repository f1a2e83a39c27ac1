"""The names symgrad gives what it makes, in one place (every stage reads them from here).

``grad_Z`` is the adjoint dLoss/dZ (the derivation's and the generated code's name);
``grad_Z_core`` an adjoint with small factors pulled out of it (the generated code);
``shared_1, shared_2, ...`` values the generated code computes once; a model with layers
names the adjoint of a layer's output ``grad_out`` and the loss of its hidden layer
``vjp``. A model may not use any of these (``symgrad/model/names.py`` refuses them).
"""
ADJOINT_PREFIX = "grad_"
CORE_SUFFIX = "_core"
SHARED_PREFIX = "shared"        # shared_1, shared_2, ...
LAYER_OUTPUT_ADJOINT = "grad_out"
HIDDEN_LAYER_LOSS = "vjp"


def adjoint_name(name: str) -> str:
    """``grad_Z`` for ``Z``."""
    return ADJOINT_PREFIX + name


def adjoint_of(name: str) -> str:
    """The tensor a generated adjoint is of: ``grad_Z`` and ``grad_Z_core`` -> ``Z``."""
    return name.removeprefix(ADJOINT_PREFIX).removesuffix(CORE_SUFFIX)


TANGENT_PREFIX = "dot_"


def tangent_name(name: str) -> str:
    """``dot_Z`` for ``Z``, ``dot_grad_Z`` for ``grad_Z``: the directional derivative along the tangent."""
    return TANGENT_PREFIX + name
