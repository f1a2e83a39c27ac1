"""Models with layers: one generated module serves every depth; list inputs are checked."""
import numpy as np
import pytest

from symgrad import catalogue
from symgrad.differentiate.chain_rule import derive
from symgrad.gradcheck import dimension_values, sample_inputs
from symgrad.cli import import_generated
from symgrad.differentiate.layers import StackDerivation

from .conftest import GENERATED

STACKS = [name for name in catalogue.names() if catalogue.build(name).stack is not None]


def test_the_deep_models_have_layers():
    assert set(STACKS) >= {"ntk_relu", "softmax_ce"}


@pytest.mark.parametrize("name", STACKS)
def test_derivation_is_one_layer_of_each_kind(name):
    derivation = derive(catalogue.build(name))
    assert isinstance(derivation, StackDerivation)
    hidden = derivation.hidden
    carry = hidden.model.carry_name
    # the recursion: the input's adjoint is written with the output's adjoint, grad_out
    text = str([t.factor for t in hidden.expanded(carry).terms])
    assert "grad_out" in text


@pytest.mark.parametrize("name", STACKS)
def test_depth_comes_from_the_lists_at_call_time(name):
    model = catalogue.build(name)
    module = import_generated(GENERATED / f"{name}.py")
    rng = np.random.default_rng(0)
    for depth in (1, 2, 4, 7):
        inputs = sample_inputs(model, module, dimension_values(model), rng, depth)
        value, grads = module.loss_and_grad(**inputs)
        assert np.isfinite(value)
        for list_name in module.PARAMETERS:
            assert [g.shape for g in grads[list_name]] == [w.shape for w in inputs[list_name]]


def test_list_inputs_are_checked():
    model = catalogue.build("ntk_relu")
    module = import_generated(GENERATED / "ntk_relu.py")
    inputs = sample_inputs(model, module, dimension_values(model), np.random.default_rng(1), 3)
    bad = [w.copy() for w in inputs["W"]]
    bad[1] = np.zeros((bad[1].shape[0], bad[1].shape[1] + 1))
    with pytest.raises(ValueError, match=r"input W\[1\]: expected shape \(k_out, k_in\)"):
        module.loss_and_grad(**{**inputs, "W": bad})
    with pytest.raises(ValueError, match="list inputs differ in length"):
        module.loss_and_grad(**{**inputs, "W0": inputs["W0"][:2]})
    with pytest.raises(ValueError, match=r"input W: expected a non-empty list"):
        module.loss_and_grad(**{**inputs, "W": []})


def test_ntk_relu_matches_a_direct_implementation():
    model = catalogue.build("ntk_relu")
    module = import_generated(GENERATED / "ntk_relu.py")
    inputs = sample_inputs(model, module, dimension_values(model), np.random.default_rng(2), 3)
    X, W, W0, m, lam, r = (inputs[k] for k in ("X", "W", "W0", "m", "lam", "r"))
    for w in W[:-1]:
        X = np.maximum(w @ X, 0)
    f = np.sqrt(m) * W[-1] @ X
    expected = np.sum((f - r) ** 2) / 2 + m * lam * sum(np.sum((w - w0) ** 2) for w, w0 in zip(W, W0)) / 2
    assert module.loss(**inputs) == pytest.approx(expected, rel=1e-12)


def test_softmax_ce_matches_a_direct_implementation():
    model = catalogue.build("softmax_ce")
    module = import_generated(GENERATED / "softmax_ce.py")
    inputs = sample_inputs(model, module, dimension_values(model), np.random.default_rng(3), 3)
    a, Y, Theta = inputs["X"], inputs["Y"], inputs["Theta"]
    for theta in Theta[:-1]:
        a = 1 / (1 + np.exp(-(a @ theta.T)))
    z = a @ Theta[-1].T
    log_p = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    assert module.loss(**inputs) == pytest.approx(-np.sum(Y * log_p) / len(Y), rel=1e-12)
