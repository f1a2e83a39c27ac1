"""``amax`` and ``amin`` along an axis (``symgrad/extrema.py``): values and gradients against finite
differences and HIPS autograd away from ties, and at a tie the gradient split evenly, as
``torch.amax`` splits it (computed by hand)."""
import numpy as np
import pytest

from symgrad import Model, amax, amin, sum_squares
from symgrad.gradcheck import check_module
from symgrad.errors import ShapeError

from .test_matrix_ops import _agrees_with_autograd, _module


def _extrema():
    m = Model("extrema")
    n, L, d = m.dims("n L d")
    X = m.constant("X", (n, d))
    W = m.parameter("W", (d, L))
    Z = m.define("Z", X @ W)
    R = m.define("R", amax(Z, axis=1))
    C = m.define("C", amin(Z * 2, axis=0))
    m.loss("Loss", sum_squares(R) + (C * C * C).sum())
    return m


def _extrema_reference(np_, i):
    Z = i["X"] @ i["W"]
    return np_.sum(np_.max(Z, axis=1) ** 2) + np_.sum(np_.min(2 * Z, axis=0) ** 3)


def test_amax_and_amin_agree_with_finite_differences_and_autograd(tmp_path):
    m = _extrema()
    module, text = _module(m, tmp_path)
    for check in check_module(m, module, points=2):
        assert check.max_relative_error < 1e-6, check
    assert _agrees_with_autograd(m, module, _extrema_reference) < 1e-8
    assert "Z.max(axis=1, keepdims=True)" in text
    assert "grad_R_ties" not in text       # a count of ties carries no gradient


def test_a_tie_splits_the_gradient_evenly_as_torch_amax(tmp_path):
    """torch.amax(x, 1) of [[1, 3, 3, 0], [2, 5, 5, 5]] gives 3 and 5; the gradient of their sum
    is 1/2 on each of the two 3s and 1/3 on each of the three 5s (amin likewise)."""
    m = Model("ties")
    n, L = m.dims("n L")
    x = m.parameter("x", (n, L))
    m.loss("Loss", amax(x, axis=1).sum() + 10 * amin(x, axis=0).sum())
    module, _ = _module(m, tmp_path)
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 5.0, 5.0, 5.0], [1.0, 5.0, 7.0, 0.0]])
    value, grads = module.loss_and_grad(x=x)
    assert value == pytest.approx(3 + 5 + 7 + 10 * (1 + 3 + 3 + 0))
    expected = np.array([[0, 1 / 2, 1 / 2, 0], [0, 1 / 3, 1 / 3, 1 / 3], [0, 0, 1, 0]], dtype=float)
    expected += 10 * np.array([[1 / 2, 1, 1, 1 / 2], [0, 0, 0, 0], [1 / 2, 0, 0, 1 / 2]])
    np.testing.assert_allclose(grads["x"], expected, rtol=1e-15)


def test_amax_needs_a_matrix_and_an_axis():
    m = Model("bad_axis")
    n, L = m.dims("n L")
    x = m.parameter("x", (n, L))
    with pytest.raises(ShapeError, match=r"amin\(axis=2\)"):
        amin(x, axis=2)
    with pytest.raises(ShapeError, match=r"amax\(axis=None\)"):
        amax(x, axis=None)
