"""Numerics: no NaN, inf or NumPy warning (overflow, invalid, divide; underflow to 0 is harmless)
for pre-activations of size 1e3, the BCE collapse, and a saturated sigmoid's second order to
rounding against a 60-digit reference."""
import warnings
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp

from symgrad import Model, catalogue, sigmoid, sum_squares
from symgrad.cli import import_generated
from symgrad.differentiate.chain_rule import derive
from symgrad.emit.layer_hvp_plan import render_hvp_module
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


def _gelu_model():
    m = Model("gelu_saturated", "z sigmoid(1.702 z) of a linear map, squared error")
    n, d = m.dims("n d")
    X, y, w = m.constant("X", (n, d)), m.constant("y", (n, 1)), m.parameter("w", (d, 1))
    z = m.define("z", X @ w)
    a = m.define("a", z * sigmoid(1.702 * z))      # a Python float: a SymPy Float in the derivation
    m.loss("Loss", sum_squares(a - y) / 2)
    return m


def _gelu_hvp_reference(X, w, y, v):
    """``X.T ((f'(z)**2 + f''(z) (f(z) - y)) * (X v))`` for ``f(z) = z sigmoid(1.702 z)``, ``z = X w``,
    in 60-digit arithmetic from the closed forms of f' and f''."""
    with mpmath.workdps(60):
        c = mpmath.mpf("1.702")
        out = [mpmath.mpf(0)] * X.shape[1]
        for row, target in zip(X, y[:, 0]):
            z = mpmath.fsum(mpmath.mpf(a) * mpmath.mpf(b) for a, b in zip(row, w[:, 0]))
            s = 1 / (1 + mpmath.exp(-c * z))
            f, f1, f2 = z * s, s + c * z * s * (1 - s), c * s * (1 - s) * (2 + c * z * (1 - 2 * s))
            along = mpmath.fsum(mpmath.mpf(a) * mpmath.mpf(b) for a, b in zip(row, v[:, 0]))
            weight = (f1 ** 2 + f2 * (f - mpmath.mpf(target))) * along
            out = [o + weight * mpmath.mpf(a) for o, a in zip(out, row)]
        return np.array([[float(o)] for o in out])


def test_saturated_sigmoid_hvp_is_right_to_rounding(tmp_path):
    """Pre-activations from 0.1 to 5e6: a saturated ``s = sigmoid(1.702 z)`` is 1 exactly, where
    f'' = 0 and f' = 1 must come out of the generated hvp as such, not as ``z`` times a rounding
    (``0.667 s**2 z - s z + 0.333 z`` and ``s (1 + 1.702 z) - 1.702 s**2 z`` were 2e-2 off here)."""
    path = tmp_path / "gelu_saturated_hvp.py"
    path.write_text(render_hvp_module(derive(_gelu_model()), "symgrad generate gelu_saturated --hvp"))
    module = import_generated(path)
    rng = np.random.default_rng(3)
    rows = np.array([[1.0], [1.0], [1e3], [1e3], [1e-3], [1e-3], [1.0]]) * 1e3
    X = rng.standard_normal((7, 3)) * rows
    w, y, v = rng.standard_normal((3, 1)), rng.standard_normal((7, 1)), rng.standard_normal((3, 1))
    products = module.hvp({"w": v}, X=X, w=w, y=y)[2]
    expected = _gelu_hvp_reference(X, w, y, v)
    assert np.max(np.abs(products["w"] - expected)) / np.max(np.abs(expected)) < 1e-13
