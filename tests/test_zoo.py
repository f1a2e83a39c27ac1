"""The zoo of outside models (``symgrad/model/catalogue/zoo.py``): each loss written again, independently, in
HIPS autograd's NumPy, and every generated gradient compared with autograd's at random points of
both dimension sets (all sizes different), away from kinks; and the numerics the zoo relies on."""
import warnings

import numpy as np
import pytest

from symgrad import catalogue
from symgrad.gradcheck import dimension_values, sample_inputs
from symgrad.cli import import_generated
from symgrad.model.catalogue.zoo import RNN_STEPS

from .conftest import GENERATED, require

AUTOGRAD_RTOL = 1e-8


def _softmax(np_, s):
    shifted = s - np_.max(s, axis=1, keepdims=True)
    e = np_.exp(shifted)
    return e / np_.sum(e, axis=1, keepdims=True)


def _normalize(np_, i, axis):
    X = i["X"]
    mu = np_.mean(X, axis=axis, keepdims=True)
    var = np_.mean((X - mu) ** 2, axis=axis, keepdims=True)
    Y = i["gamma"] * (X - mu) / np_.sqrt(var + i["eps"]) + i["beta"]
    return 0.5 * np_.sum((Y - i["T"]) ** 2)


def _rmsnorm_proj(np_, i):
    X = i["X"]
    Y = i["g"] * X / np_.sqrt(np_.mean(X ** 2, axis=1, keepdims=True) + i["eps"])
    return 0.5 * np_.sum((Y @ i["W"] - i["T"]) ** 2)


def _rnn(np_, i):
    h = i["h0"]
    for t in range(1, RNN_STEPS + 1):
        h = np_.tanh(i["Wx"] @ i[f"x{t}"] + i["Wh"] @ h + i["b"])
    return 0.5 * np_.sum((i["Wy"] @ h - i["Y"]) ** 2)


def _cs231n(np_, i):
    hidden = np_.maximum(0.0, i["X"] @ i["W1"] + i["b1"])
    scores = hidden @ i["W2"] + i["b2"]
    N = i["X"].shape[0]
    data_loss = -np_.sum(i["Y"] * np_.log(_softmax(np_, scores))) / N
    return data_loss + 0.5 * i["reg"] * (np_.sum(i["W1"] ** 2) + np_.sum(i["W2"] ** 2))


def _attention(np_, i):
    Q, K, V = i["X"] @ i["Wq"], i["X"] @ i["Wk"], i["X"] @ i["Wv"]
    P = _softmax(np_, Q @ K.T / np_.sqrt(Q.shape[1]))
    return 0.5 * np_.sum((P @ V - i["T"]) ** 2)


def _causal_attention(np_, i):
    """The mask made here, as -inf above the diagonal, not read from the model's input."""
    Q, K, V = i["X"] @ i["Wq"], i["X"] @ i["Wk"], i["X"] @ i["Wv"]
    n = Q.shape[0]
    later = np.triu(np.full((n, n), -np.inf), k=1)
    P = _softmax(np_, Q @ K.T / np_.sqrt(Q.shape[1]) + later)
    return 0.5 * np_.sum((P @ V - i["T"]) ** 2)


def _gaussian_nll(np_, i):
    Sigma = i["A"] @ i["A"].T + i["I"]
    D = i["X"] - i["mu"]
    d, N = i["X"].shape
    return (0.5 * N * np_.linalg.slogdet(Sigma)[1] + 0.5 * np_.sum(D * (np_.linalg.inv(Sigma) @ D))
            + 0.5 * N * d * np_.log(2 * np_.pi))


REFERENCES = {
    "logistic_regression": lambda np_, i: np_.mean(np_.log(1 + np_.exp(-i["y"] * (i["X"] @ i["w"] + i["b"])))),
    "ridge_regression": lambda np_, i: np_.sum((i["X"] @ i["w"] - i["y"]) ** 2) + i["lam"] * np_.sum(i["w"] ** 2),
    "batch_norm": lambda np_, i: _normalize(np_, i, 0),
    "layer_norm": lambda np_, i: _normalize(np_, i, 1),
    "rmsnorm_proj": _rmsnorm_proj,
    "self_attention": _attention,
    "causal_attention": _causal_attention,
    "cs231n_two_layer": _cs231n,
    "residual_block": lambda np_, i: 0.5 * np_.sum(
        (i["x"] + i["W2"] @ np_.maximum(0.0, i["W1"] @ i["x"] + i["b1"]) + i["b2"] - i["T"]) ** 2),
    "rnn_unrolled": _rnn,
    "gaussian_nll": _gaussian_nll,
}
ZOO = [name for name, (module, _) in catalogue.CATALOGUE.items() if module == "symgrad.model.catalogue.zoo"]


def test_every_zoo_model_has_a_reference():
    assert sorted(REFERENCES) == sorted(ZOO)


@pytest.mark.parametrize("name", ZOO)
def test_zoo_gradients_agree_with_autograd(name):
    autograd, anp = require("autograd"), require("autograd.numpy")
    model = catalogue.build(name)
    module = import_generated(GENERATED / f"{name}.py")
    rng = np.random.default_rng(11)
    for which in (0, 1):
        for _ in range(2):
            inputs = sample_inputs(model, module, dimension_values(model, which), rng)
            value, grads = module.loss_and_grad(**inputs)
            parameters = {k: inputs[k] for k in module.PARAMETERS}
            loss = lambda p: REFERENCES[name](anp, {**inputs, **p})  # noqa: E731
            assert value == pytest.approx(float(loss(parameters)), rel=1e-12)
            expected = autograd.grad(loss)(parameters)
            for parameter in module.PARAMETERS:
                np.testing.assert_allclose(grads[parameter], expected[parameter], rtol=AUTOGRAD_RTOL,
                                           atol=1e-12 * np.max(np.abs(expected[parameter])), err_msg=parameter)


def test_logistic_loss_written_literally_is_finite_at_large_margins():
    """log(1 + exp(-m)) is computed as softplus(-m): at margins of +-2,000 no overflow, no NaN."""
    module = import_generated(GENERATED / "logistic_regression.py")
    X = np.array([[1.0, 2.0], [-3.0, 1.0], [2.0, -2.0]])
    w = np.array([[1000.0], [-1000.0]])        # margins y (X w) of -1000 .. 4000 in size
    y = np.array([[1.0], [-1.0], [-1.0]])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        value, grads = module.loss_and_grad(X=X, y=y, w=w, b=0.0)
    margins = y * (X @ w)
    assert value == pytest.approx(np.mean(np.logaddexp(0.0, -margins)))
    assert np.all(np.isfinite(grads["w"])) and np.isfinite(grads["b"])
    np.testing.assert_allclose(grads["w"], -X.T @ (y * (margins < 0)) / 3)   # sigmoid(-m) is 0 or 1 here


def test_softmax_models_are_stable_for_logits_of_a_thousand():
    for name, scaled in (("self_attention", "Wq"), ("causal_attention", "Wq"), ("cs231n_two_layer", "W2")):
        model = catalogue.build(name)
        module = import_generated(GENERATED / f"{name}.py")
        inputs = sample_inputs(model, module, dimension_values(model), np.random.default_rng(2))
        inputs[scaled] = inputs[scaled] * 1e3
        with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
            warnings.simplefilter("error")
            value, grads = module.loss_and_grad(**inputs)
        assert np.isfinite(value) and all(np.all(np.isfinite(g)) for g in grads.values()), name


def test_softmax_backward_is_a_vector_jacobian_product():
    """The attention backward through the softmax makes (n, n) arrays and (n, 1) sums: never a
    Jacobian per row, a diag or an einsum over three indices."""
    text = (GENERATED / "self_attention.py").read_text()
    assert "np.diag" not in text and "np.eye" not in text and "einsum" not in text
    assert "grad_S = " in text


def _causal_inputs(n=6, seed=4):
    model = catalogue.build("causal_attention")
    module = import_generated(GENERATED / "causal_attention.py")
    dims = {**dimension_values(model), "n": n}
    return module, sample_inputs(model, module, dims, np.random.default_rng(seed))


def test_causal_attention_reads_no_later_token():
    """P is lower triangular, exactly, each row summing to 1; changing the last token's input row
    leaves every earlier output alone, to the last bit, and changes the last one."""
    module, inputs = _causal_inputs()
    forward = module.forward(**inputs)
    P, O = forward["P"], forward["O"]
    assert np.all(np.triu(P, k=1) == 0.0) and np.all(P[np.tril_indices(len(P))] > 0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-14)
    changed = {**inputs, "X": inputs["X"].copy()}
    changed["X"][-1] += 1.0
    np.testing.assert_array_equal(module.forward(**changed)["O"][:-1], O[:-1])
    assert not np.allclose(module.forward(**changed)["O"][-1], O[-1])


def test_causal_mask_of_minus_1e9_gives_what_minus_infinity_gives():
    """exp(s - 1e9 - max) is 0 exactly, so the finite mask is the -inf mask to the last bit,
    for the loss and every gradient; a mask of -10 is not (the test can tell)."""
    module, inputs = _causal_inputs()
    n = inputs["mask"].shape[0]
    np.testing.assert_array_equal(inputs["mask"], np.triu(np.full((n, n), -1e9), k=1))
    value, grads = module.loss_and_grad(**inputs)
    with np.errstate(invalid="raise", divide="raise", over="raise"):
        exact_value, exact = module.loss_and_grad(**{**inputs, "mask": np.triu(np.full((n, n), -np.inf), k=1)})
    assert value == exact_value
    for parameter in module.PARAMETERS:
        np.testing.assert_array_equal(grads[parameter], exact[parameter], err_msg=parameter)
    weak_value, _ = module.loss_and_grad(**{**inputs, "mask": np.triu(np.full((n, n), -10.0), k=1)})
    assert weak_value != value
