"""symgrad.unroll: an Elman RNN unrolled for T steps with shared weights, checked against HIPS
autograd and central finite differences on shapes whose dimensions all differ."""
import numpy as np
import pytest

import symgrad
from symgrad import Model, ModelError, ShapeError, sum_squares, tanh, unroll
from symgrad.gradcheck import finite_difference, relative_error

from .conftest import require

STEPS = 4
SIZES = {"k": 3, "d": 4, "n": 5, "o": 2}   # hidden, input, batch, output: all different


def elman_rnn():
    m = Model("elman_rnn", f"h_t = tanh(W h_(t-1) + U x_t + b), t = 1..{STEPS}; sum_squares(V h_T - Y) / n")
    k, d, n, o = m.dims("k d n o")
    xs = [m.constant(f"x{t}", (d, n)) for t in range(1, STEPS + 1)]
    h0, Y = m.constant("h0", (k, n)), m.constant("Y", (o, n))
    W, U = m.parameter("W", (k, k)), m.parameter("U", (k, d))
    b, V = m.parameter("b", (k, 1)), m.parameter("V", (o, k))
    states = unroll(m, lambda t, h: tanh(W @ h + U @ xs[t - 1] + b), h0, STEPS)
    m.loss("Loss", sum_squares(V @ states[-1] - Y) / n)
    return m


def inputs():
    rng = np.random.default_rng(7)
    k, d, n, o = (SIZES[x] for x in "kdno")
    shapes = {**{f"x{t}": (d, n) for t in range(1, STEPS + 1)}, "h0": (k, n), "Y": (o, n),
              "W": (k, k), "U": (k, d), "b": (k, 1), "V": (o, k)}
    return {name: rng.normal(size=shape) for name, shape in shapes.items()}


def autograd_loss(np_, values):
    h = values["h0"]
    for t in range(1, STEPS + 1):
        h = np_.tanh(values["W"] @ h + values["U"] @ values[f"x{t}"] + values["b"])
    return np_.sum((values["V"] @ h - values["Y"]) ** 2) / values["Y"].shape[1]


def test_unroll_names_each_state_and_shares_the_parameters():
    model = elman_rnn()
    names = list(model.definitions)
    steps = [f"h_{t}" for t in range(1, STEPS + 1)]
    assert [n for n in names if n in steps] == steps and names.index("h_4") < names.index("Loss")
    assert model.parameter_names == ["W", "U", "b", "V"]


def test_unrolled_rnn_matches_autograd_and_finite_differences():
    autograd = require("autograd")
    import autograd.numpy as anp
    module = symgrad.derive(elman_rnn()).module()
    values = inputs()
    value, grads = module.loss_and_grad(**values)
    assert np.isclose(value, autograd_loss(np, values))
    for name in ("W", "U", "b", "V"):
        reference = autograd.grad(lambda p: autograd_loss(anp, {**values, name: p}))(values[name])
        assert grads[name].shape == values[name].shape
        assert relative_error(grads[name], reference) < 1e-10, name
        assert relative_error(grads[name], finite_difference(module, values, name)) < 1e-6, name


def test_unroll_refuses_bad_steps_and_a_changing_shape():
    m = Model("m")
    k, n = m.dims("k n")
    W, h0 = m.parameter("W", (k, k)), m.constant("h0", (k, n))
    with pytest.raises(ModelError, match="steps must be a positive integer, got 0"):
        unroll(m, lambda t, h: W @ h, h0, 0)
    with pytest.raises(ShapeError, match=r"step\(1, state\) has shape \(k, 1\), the state \(k, n\)"):
        unroll(m, lambda t, h: (W @ h).sum(axis=1), h0, 2)
