"""Seed 000 in detail: the collapsed forms, an independent loss, and an independent autodiff."""
import numpy as np
import pytest
import sympy as sp

from symgrad import catalogue
from symgrad.differentiate.chain_rule import derive
from symgrad.gradcheck import dimension_values, sample_inputs
from symgrad.cli import import_generated
from symgrad.index.text import formula_text
from symgrad.model.functions import FUNCTIONS

from .conftest import GENERATED, require


@pytest.fixture(scope="module")
def seed000():
    model = catalogue.build("two_branch_crelu")
    return model, derive(model), import_generated(GENERATED / "two_branch_crelu.py")


def _text(model, derivation, name):
    reserved = set(model.tensors) | set(model.dimensions)
    return formula_text(f"dLoss/d{name}", derivation.expanded(name), reserved)


def test_collapsed_forms_have_no_delta_left(seed000):
    model, derivation, _ = seed000
    for name in derivation.parameters:
        expr = derivation.expanded(name)
        for term in expr.terms:
            assert not term.factor.has(sp.KroneckerDelta), (name, term)
            assert not term.conditions, (name, term)
            assert len(term.bound) == 1


def test_collapsed_forms_read_as_the_notes_should(seed000):
    model, derivation, _ = seed000
    assert _text(model, derivation, "A1") == \
        "dLoss/dA1[i, j] = -2/L * sum_c crelu_mask(Z[i, c], t)*C[0, i]*Delta[0, c]*X1[j, c]"
    assert _text(model, derivation, "A2") == \
        "dLoss/dA2[i, j] = -2/L * sum_c crelu_mask(Z[M + i, c], t)*C[0, M + i]*Delta[0, c]*X2[j, c]"
    assert _text(model, derivation, "B2") == \
        "dLoss/dB2[i, 0] = -2/L * sum_c crelu_mask(Z[M + i, c], t)*C[0, M + i]*Delta[0, c]"
    assert _text(model, derivation, "C") == "dLoss/dC[0, i] = -2/L * sum_c Delta[0, c]*H[i, c]"
    assert _text(model, derivation, "d") == "dLoss/dd = -2/L * sum_c Delta[0, c]"


def test_collapsed_a1_equals_the_expected_expression(seed000):
    model, derivation, _ = seed000
    expr = derivation.expanded("A1")
    (term,) = expr.terms
    i, j = expr.indices
    (c, lo, hi) = term.bound[0]
    L, M = model.dimensions["L"], model.dimensions["M"]
    t = model.tensors["t"].symbol
    base = {n: model.tensors[n].symbol for n in ("Z", "C", "Delta", "X1")}
    expected = -2 / L * FUNCTIONS["crelu_mask"](base["Z"][i, c], t) * base["C"][0, i] \
        * base["Delta"][0, c] * base["X1"][j, c]
    assert sp.simplify(term.factor - expected) == 0
    assert (lo, hi) == (0, L - 1)
    a2 = derivation.expanded("A2").terms[0]
    i2 = derivation.expanded("A2").indices[0]
    assert a2.factor.has(base["Z"][M + i2, a2.bound[0][0]])


def reference_loss(X1, X2, Yexp, t, A1, A2, B1, B2, C, d, xp=np):
    """The note's General expression, written directly."""
    Z = xp.concatenate([A1 @ X1 + B1, A2 @ X2 + B2], axis=0)
    H = xp.clip(Z, 0.0, t)
    residual = Yexp - (C @ H + d)
    return xp.sum(residual ** 2) / X1.shape[1]


def test_generated_loss_equals_the_notes_general_expression(seed000):
    model, _, module = seed000
    rng = np.random.default_rng(11)
    for which in (0, 1):
        inputs = sample_inputs(model, module, dimension_values(model, which), rng)
        assert module.loss(**inputs) == pytest.approx(reference_loss(**inputs), rel=1e-13)


def test_gradients_agree_with_hips_autograd(seed000):
    autograd = require("autograd")
    anp = require("autograd.numpy")

    model, _, module = seed000
    rng = np.random.default_rng(12)
    inputs = sample_inputs(model, module, dimension_values(model, 1), rng)
    _, grads = module.loss_and_grad(**inputs)
    for name in module.PARAMETERS:
        def f(value, name=name):
            return reference_loss(**{**inputs, name: value}, xp=anp)
        expected = autograd.grad(f)(inputs[name])
        np.testing.assert_allclose(grads[name], expected, rtol=1e-11, atol=1e-13)


def test_matrix_view_without_the_1_over_l_is_off_by_l(seed000):
    """The note's boxed Matrix view drops 1/L: ours is the boxed form divided by L."""
    model, _, module = seed000
    rng = np.random.default_rng(13)
    inputs = sample_inputs(model, module, dimension_values(model), rng)
    M, L = inputs["A1"].shape[0], inputs["X1"].shape[1]
    forward = module.forward(**inputs)
    mask = (forward["Z"] >= 0) & (forward["Z"] <= inputs["t"])
    boxed_a1 = -2 * inputs["C"][:, :M].T * ((forward["Delta"] * mask[:M]) @ inputs["X1"].T)
    _, grads = module.loss_and_grad(**inputs)
    np.testing.assert_allclose(grads["A1"], boxed_a1 / L, rtol=1e-12)
