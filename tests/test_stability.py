"""Numerics: no NaN, inf or NumPy warning (overflow, invalid, divide; underflow to 0 is harmless)
for pre-activations of size 1e3, and the BCE collapse."""
import warnings
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from symgrad import catalogue
from symgrad.cli import import_generated
from symgrad.differentiate.chain_rule import derive
from symgrad.gradcheck import _draw, dimension_values
from symgrad.differentiate.reuse import reuse_forward_values

GENERATED = Path(__file__).resolve().parent.parent / "generated"


def test_large_preactivations_give_finite_values_without_warnings(model, generated):
    rng = np.random.default_rng(7)
    inputs = _draw(model, dimension_values(model), rng, depth=3)

    def scaled(name, value):
        if name in model.samplers:
            return value
        if isinstance(value, list):
            return [v * 1e3 for v in value]
        return value * 1e3 if np.ndim(value) == 2 else value

    big = {k: scaled(k, v) for k, v in inputs.items()}
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        value, grads = generated.loss_and_grad(**big)
    assert np.isfinite(value)
    for name, grad in grads.items():
        for part in (grad if isinstance(grad, list) else [grad]):
            assert np.all(np.isfinite(part)), name


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_large_preactivations_give_finite_products_without_warnings(model, catalogue_name, sign):
    """hvp() at parameters of size 1e3 of either sign: sigmoid's exp(-z) clipped where it would
    overflow, nothing infinite in the tangents either."""
    hvp_module = import_generated(GENERATED / f"{catalogue_name}_hvp.py")
    rng = np.random.default_rng(8)
    inputs = _draw(model, dimension_values(model), rng, depth=3)
    big = {k: v if k in model.samplers or k not in hvp_module.PARAMETERS else
           ([sign * 1e3 * p for p in v] if isinstance(v, list) else sign * 1e3 * v) for k, v in inputs.items()}
    tangents = {p: ([rng.standard_normal(np.shape(a)) for a in v] if isinstance(v, list)
                    else rng.standard_normal(np.shape(v)) if np.ndim(v) else 1.0) for p, v in big.items()
                if p in hvp_module.PARAMETERS}
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        value, grads, products = hvp_module.hvp(tangents, **big)
    assert np.isfinite(value)
    for name, product in products.items():
        for part in (product if isinstance(product, list) else [product]):
            assert np.all(np.isfinite(part)), name


def test_bce_gradient_collapses_to_yhat_minus_y_over_k():
    model = catalogue.build("hw1_sigmoid_bce")
    derivation = derive(model)
    expr = reuse_forward_values(derivation.adjoints["s2"], model, cheaper=False)
    (term,) = expr.terms
    (i, _) = expr.indices
    yhat, y = model.tensors["yhat"].symbol, model.tensors["y"].symbol
    K = model.dimensions["dy"]
    assert not term.bound and sp.simplify(term.factor - (yhat[i, 0] - y[i, 0]) / K) == 0
