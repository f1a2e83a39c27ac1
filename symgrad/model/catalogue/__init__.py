"""The catalogue of models from the source notes and a zoo of outside ones (``models/zoo.py``): the single source for ``generated/`` and the tests.

Each entry names a module in ``symgrad/models`` and its function returning the ``Model``;
adding an entry here adds its generated module, its checks and its tests.
"""
from __future__ import annotations

import importlib

from symgrad.errors import ModelError
from symgrad.model.model import Model

CATALOGUE: dict[str, tuple[str, str]] = {
    "two_branch_crelu": ("symgrad.model.catalogue.two_branch_crelu", "build"),
    "mlp_mse": ("symgrad.model.catalogue.mlp_mse", "build"),
    "mlp_mse_sigmoid": ("symgrad.model.catalogue.mlp_mse", "build_sigmoid"),
    "mlp_mse_tanh": ("symgrad.model.catalogue.mlp_mse", "build_tanh"),
    "ntk_relu": ("symgrad.model.catalogue.ntk_relu", "build"),
    "softmax_ce": ("symgrad.model.catalogue.softmax_ce", "build"),
    "hw1_relu_mse": ("symgrad.model.catalogue.hw1", "build_relu_mse"),
    "hw1_sigmoid_mse": ("symgrad.model.catalogue.hw1", "build_sigmoid_mse"),
    "hw1_sigmoid_bce": ("symgrad.model.catalogue.hw1", "build_sigmoid_bce"),
    "logistic_regression": ("symgrad.model.catalogue.zoo", "build_logistic_regression"),
    "ridge_regression": ("symgrad.model.catalogue.zoo", "build_ridge_regression"),
    "batch_norm": ("symgrad.model.catalogue.zoo", "build_batch_norm"),
    "layer_norm": ("symgrad.model.catalogue.zoo", "build_layer_norm"),
    "rmsnorm_proj": ("symgrad.model.catalogue.zoo", "build_rmsnorm_proj"),
    "self_attention": ("symgrad.model.catalogue.zoo", "build_self_attention"),
    "causal_attention": ("symgrad.model.catalogue.zoo", "build_causal_attention"),
    "cs231n_two_layer": ("symgrad.model.catalogue.zoo", "build_cs231n_two_layer"),
    "residual_block": ("symgrad.model.catalogue.zoo", "build_residual_block"),
    "rnn_unrolled": ("symgrad.model.catalogue.zoo", "build_rnn_unrolled"),
    "gaussian_nll": ("symgrad.model.catalogue.zoo", "build_gaussian_nll"),
}


def names() -> list[str]:
    return list(CATALOGUE)


def build(name: str) -> Model:
    """The catalogue model called ``name``."""
    if name not in CATALOGUE:
        raise ModelError(f"unknown model {name!r}; the catalogue has: {', '.join(CATALOGUE)} "
                         "(or give the path of a .py file that defines a model)")
    module, function = CATALOGUE[name]
    return getattr(importlib.import_module(module), function)()
